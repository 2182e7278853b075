// What the accept page says after "Accept", over real HTTP: the scope in words on the
// invitation, and the status endpoint the accepted page polls (a random id issued at Accept,
// never the spent link). Caches are plain maps; nothing here talks to an API server.
import { describe, expect, it, afterEach } from 'vitest';
import type { Invitation, Membership, Project, Team } from '../../../src/api/generated.ts';
import { parseConfig, ConfigError } from '../../../src/config.ts';
import { mintToken, type MintedToken } from '../../../src/domain/tokens.ts';
import type { KubeClient } from '../../../src/runtime/kube-client.ts';
import { AcceptPage, type AcceptPageOptions } from '../../../src/web/accept.ts';
import { canICommands, scopeInWords, StatusIds, STATUS_ID_TTL_MS } from '../../../src/web/next-steps.ts';

const hashIndex = 'byLinkHash';
const team = {
  apiVersion: 'roster.dev/v1alpha1',
  kind: 'Team',
  metadata: { name: 'acme', namespace: 'acme' },
  spec: { displayName: 'Acme', owner: { email: 'ava@acme.com' }, seats: 5 },
} as Team;

function project(name: string, envs: [string, string][]): Project {
  return {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Project',
    metadata: { name, namespace: 'acme' },
    spec: { team: 'acme', environments: envs.map(([n, namespace]) => ({ name: n, namespace })) },
  } as Project;
}
const projects = [
  project('shop', [
    ['staging', 'shop-staging'],
    ['production', 'shop-prod'],
  ]),
  project('wiki', [['main', 'wiki']]),
];

function invitation(token: MintedToken, spec: Partial<Invitation['spec']> = {}): Invitation {
  return {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Invitation',
    metadata: { name: 'jordan', namespace: 'acme', generation: 1 },
    spec: { team: 'acme', email: 'jordan@acme.com', role: 'developer', ...spec },
    status: {
      phase: 'Pending',
      sentAt: '2026-03-01T11:00:00Z',
      expiresAt: '2026-03-08T11:00:00Z',
      deliveries: 1,
      link: { id: token.linkId, hash: token.hash },
    },
  } as Invitation;
}

function membership(phase: NonNullable<Membership['status']>['phase']): Membership {
  return {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Membership',
    metadata: { name: 'jordan', namespace: 'acme' },
    spec: { team: 'acme', email: 'jordan@acme.com', role: 'developer', projects: [{ name: 'shop', environments: ['staging'] }] },
    status: { phase, identity: { backend: 'default', subject: 'oidc:jordan@acme.com' } },
  } as Membership;
}

const pages: AcceptPage[] = [];
afterEach(async () => {
  await Promise.all(pages.splice(0).map((p) => p.close()));
});

async function start(invitations: Invitation[], options: Partial<AcceptPageOptions> = {}) {
  let clock = new Date('2026-03-01T12:00:00Z').getTime();
  const members = new Map<string, Membership>();
  const statusIds = new StatusIds();
  const page = new AcceptPage({
    client: {} as KubeClient,
    invitations: {
      byIndex: (index, value) => (index === hashIndex ? invitations.filter((i) => i.status?.link?.hash === value) : []),
      get: (ns, name) => invitations.find((i) => i.metadata.namespace === ns && i.metadata.name === name),
    },
    teams: { get: (ns, name) => (ns === 'acme' && name === 'acme' ? team : undefined) },
    memberships: { get: (ns, name) => members.get(`${ns}/${name}`) },
    projectsOf: (ns, t) => (ns === 'acme' && t === 'acme' ? projects : []),
    identityTypeOf: (name) => (name === 'default' ? 'kubernetes' : undefined),
    statusIds,
    hashIndex,
    now: () => new Date(clock),
    ...options,
  });
  pages.push(page);
  const port = await page.listen(0, '127.0.0.1');
  return {
    base: `http://127.0.0.1:${port}`,
    members,
    statusIds,
    now: () => clock,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

describe('the scope in words', () => {
  it('names the project, environments and namespaces of a scoped role', () => {
    expect(scopeInWords('developer', [{ name: 'shop', environments: ['staging'] }], projects, 'Acme')).toBe(
      'developer in project shop, environment staging (namespace shop-staging)',
    );
    expect(scopeInWords('observer', [{ name: 'shop' }, { name: 'wiki' }], projects, 'Acme')).toBe(
      'observer in project shop, environments staging (namespace shop-staging) and production (namespace shop-prod); project wiki, environment main (namespace wiki)',
    );
  });

  it('says "every project of team X" for team-wide and unscoped roles, and no projects for billing', () => {
    expect(scopeInWords('admin', undefined, projects, 'Acme')).toMatch(/^admin in every project of team Acme \(today: project shop, .*namespace wiki\)\)$/);
    expect(scopeInWords('developer', [], [], 'Acme')).toBe('developer in every project of team Acme (it has no projects yet)');
    expect(scopeInWords('billing', undefined, projects, 'Acme')).toBe('billing of team Acme (no access to its projects)');
    expect(scopeInWords('developer', [{ name: 'later' }], projects, 'Acme')).toBe('developer in later (not set up yet)');
  });

  it('gives one can-i line per in-scope namespace, at most three, quoting odd subjects', () => {
    expect(canICommands('developer', [{ name: 'shop', environments: ['staging'] }], projects, 'acme', 'jordan@acme.com')).toEqual([
      'kubectl auth can-i create deployments -n shop-staging --as jordan@acme.com',
    ]);
    const many = [
      project('a', [
        ['x', 'a-x'],
        ['y', 'a-y'],
      ]),
      project('b', [
        ['x', 'b-x'],
        ['y', 'b-y'],
      ]),
    ];
    expect(canICommands('observer', undefined, many, 'acme', "o'neil@acme.com")).toEqual([
      "kubectl auth can-i list pods -n a-x --as 'o'\\''neil@acme.com'",
      "kubectl auth can-i list pods -n a-y --as 'o'\\''neil@acme.com'",
      "kubectl auth can-i list pods -n b-x --as 'o'\\''neil@acme.com'",
    ]);
    expect(canICommands('billing', undefined, projects, 'acme', 'bill@acme.com')).toEqual([
      'kubectl auth can-i get teams.roster.dev -n acme --as bill@acme.com',
    ]);
  });

  it('is what the invitation page shows under Access, escaped', async () => {
    const token = mintToken();
    const { base } = await start([invitation(token, { projects: [{ name: 'shop', environments: ['staging'] }] })]);
    const html = await (await fetch(`${base}/invite/${token.token}`)).text();
    expect(html).toContain('<dt>Access</dt><dd>developer in project shop, environment staging (namespace shop-staging)</dd>');
    expect(html).not.toContain('Access</dt><dd>web');
  });
});

describe('the access status endpoint', () => {
  const statusUrl = (base: string, id: string) => `${base}/invite/status/${id}`;

  it('answers 404 for an unknown id, with no-store, and counts it as a failed lookup', async () => {
    const { base } = await start([], { rateLimit: { failedLookupsPerMinute: 2 } });
    const res = await fetch(statusUrl(base, 'A'.repeat(32)));
    expect(res.status).toBe(404);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect((await fetch(statusUrl(base, 'not-even-well-formed'))).status).toBe(404);
    expect((await fetch(statusUrl(base, 'B'.repeat(32)))).status).toBe(429);
  });

  it('says "being set up" until the Membership is Active, then live with the can-i line; never shows the token', async () => {
    const token = mintToken();
    const { base, members, statusIds, now } = await start([
      { ...invitation(token), status: { ...invitation(token).status!, membership: 'jordan' } } as Invitation,
    ]);
    const id = statusIds.issue({ namespace: 'acme', invitation: 'jordan' }, now());
    const before = await fetch(statusUrl(base, id));
    expect(before.status).toBe(200);
    expect(before.headers.get('cache-control')).toBe('no-store');
    expect(before.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await before.json()).toMatchObject({ phase: 'Pending', live: false, final: false, checks: [] });

    members.set('acme/jordan', membership('OverSeatLimit'));
    expect(await (await fetch(statusUrl(base, id))).json()).toMatchObject({ phase: 'OverSeatLimit', live: false, message: expect.stringMatching(/free seat/) });

    members.set('acme/jordan', membership('Active'));
    const live = await fetch(statusUrl(base, id));
    const text = await live.text();
    expect(JSON.parse(text)).toEqual({
      phase: 'Active',
      live: true,
      final: true,
      message: 'Your access is live.',
      checks: ['kubectl auth can-i create deployments -n shop-staging --as oidc:jordan@acme.com'],
    });
    expect(text).not.toContain(token.token);
    expect(text).not.toContain(token.hash);
  });

  it('offers no can-i line for backends other than kubernetes', async () => {
    const token = mintToken();
    const { base, members, statusIds, now } = await start([invitation(token)], { identityTypeOf: () => 'keycloak' });
    members.set('acme/jordan', membership('Active'));
    const id = statusIds.issue({ namespace: 'acme', invitation: 'jordan', membership: 'jordan' }, now());
    expect(await (await fetch(statusUrl(base, id))).json()).toMatchObject({ live: true, checks: [] });
  });

  it('answers 404 once the id is older than ten minutes', async () => {
    const token = mintToken();
    const { base, members, statusIds, now, advance } = await start([invitation(token)]);
    members.set('acme/jordan', membership('Active'));
    const id = statusIds.issue({ namespace: 'acme', invitation: 'jordan', membership: 'jordan' }, now());
    expect(id).toMatch(/^[A-Za-z0-9_-]{32}$/);
    advance(STATUS_ID_TTL_MS - 1000);
    expect((await fetch(statusUrl(base, id))).status).toBe(200);
    advance(1000);
    const expired = await fetch(statusUrl(base, id));
    expect(expired.status).toBe(404);
    expect(await expired.text()).not.toContain('jordan');
  });

  it('does not accept a link in place of a status id', async () => {
    const token = mintToken();
    const { base } = await start([invitation(token)]);
    expect((await fetch(statusUrl(base, token.token))).status).toBe(404);
  });
});

describe('the welcome link setting', () => {
  const base = { publicUrl: 'https://roster.example.com', mail: { from: 'Roster <roster@acme.com>' }, identityBackends: { default: { type: 'kubernetes' } } };
  it('takes an https acceptPage.welcomeUrl and refuses http', () => {
    expect(parseConfig(base).acceptPage.welcomeUrl).toBeUndefined();
    expect(parseConfig({ ...base, acceptPage: { welcomeUrl: 'https://login.acme.com/' } }).acceptPage.welcomeUrl).toBe('https://login.acme.com/');
    expect(() => parseConfig({ ...base, acceptPage: { welcomeUrl: 'http://login.acme.com/' } })).toThrow(ConfigError);
  });
});
