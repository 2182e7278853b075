import { describe, expect, it } from 'vitest';
import type { Project } from '../../../src/api/generated.ts';
import {
  namespacesToRead,
  reviewPersonAccess,
  type AccessQuestion,
  type NamespaceObjects,
  type NamespaceReading,
  type TenancyInput,
} from '../../../src/cli/access-review.ts';
import type { TenancyPolicy } from '../../../src/tenancy/namespaces.ts';
import { condition, invitation, membership, project, team } from './fixtures.ts';

const now = new Date('2026-03-01T12:00:00Z');
const acme = team('acme', 'liam@acme.com', { ownerPhase: 'Active' });
const world: NamespaceObjects = {
  namespace: 'ns',
  teams: [acme],
  projects: [project('shop', 'acme', ['production', 'staging']), project('blog', 'acme', ['production'])],
  memberships: [
    membership('riley', 'acme', 'riley@acme.com', 'developer', { phase: 'Active', projects: [{ name: 'shop', environments: ['staging'] }] }),
    membership('noah', 'acme', 'noah@acme.com', 'admin', { phase: 'Active' }),
    membership('maya', 'acme', 'maya@acme.com', 'billing', { phase: 'Active' }),
    membership('obi', 'acme', 'obi@acme.com', 'observer', { phase: 'Active' }),
    membership('pat', 'acme', 'pat@acme.com', 'developer', { phase: 'Invited' }),
    membership('quin', 'acme', 'quin@acme.com', 'developer', {
      phase: 'Invited',
      acceptedAt: '2026-03-01T11:00:00Z',
      conditions: [condition('IdentitySynced', 'False', 'namespace shop-prod not found')],
    }),
    membership('temp', 'acme', 'temp@acme.com', 'developer', { phase: 'Active', expiresAt: '2026-03-01T11:59:00Z' }),
    membership('over', 'acme', 'over@acme.com', 'developer', { phase: 'OverSeatLimit' }),
    membership('fresh', 'acme', 'fresh@acme.com', 'developer'),
  ],
  invitations: [invitation('jordan-x1', 'acme', 'jordan@acme.com', 'observer', { phase: 'Pending' })],
};

const policy: TenancyPolicy = { namespaceLabel: 'roster.dev/team', operatorNamespace: 'roster-system' };

/** Every environment namespace of the objects, assigned to their control namespace: only the matrix decides. */
function allAssigned(objects: NamespaceObjects): TenancyInput {
  const namespaces = new Map<string, NamespaceReading>();
  for (const p of objects.projects) {
    for (const e of p.spec.environments) namespaces.set(e.namespace, { labels: { 'roster.dev/team': objects.namespace }, holdsTeam: false });
  }
  return { policy, namespaces };
}

function ask(question: AccessQuestion, objects: NamespaceObjects = world) {
  const outcome = reviewPersonAccess(objects, question, now, allAssigned(objects));
  if (outcome.kind !== 'answer') throw new Error(`expected an answer, got ${outcome.kind}`);
  return outcome.answer;
}

describe('can-i decisions', () => {
  it('answers from the role matrix for team-wide roles', () => {
    expect(ask({ email: 'liam@acme.com', permission: 'changePlan' })).toMatchObject({ allowed: true, role: 'owner', via: 'team/acme', team: 'acme' });
    expect(ask({ email: 'noah@acme.com', permission: 'manageMembers' })).toMatchObject({ allowed: true, role: 'admin', via: 'membership/noah' });
    const noahBilling = ask({ email: 'noah@acme.com', permission: 'billing' });
    expect(noahBilling.allowed).toBe(false);
    expect(noahBilling.reason).toBe(
      'noah@acme.com is admin in team acme (membership/noah): role admin does not grant billing (view and manage billing, invoices, payment methods)',
    );
    expect(ask({ email: 'maya@acme.com', permission: 'billing' }).allowed).toBe(true);
    expect(ask({ email: 'maya@acme.com', permission: 'view', project: 'shop' }).allowed).toBe(false);
    expect(ask({ email: 'obi@acme.com', permission: 'view', project: 'blog', environment: 'production' }).allowed).toBe(true);
    expect(ask({ email: 'obi@acme.com', permission: 'deploy', project: 'blog' }).allowed).toBe(false);
  });

  it('honours a scoped membership down to the environment', () => {
    expect(ask({ email: 'riley@acme.com', permission: 'deploy', project: 'shop', environment: 'staging' })).toMatchObject({
      allowed: true,
      scope: 'shop (staging)',
    });
    const prod = ask({ email: 'riley@acme.com', permission: 'deploy', project: 'shop', environment: 'production' });
    expect(prod.allowed).toBe(false);
    expect(prod.reason).toContain('does not include shop/production');
    const wholeProject = ask({ email: 'riley@acme.com', permission: 'deploy', project: 'shop' });
    expect(wholeProject.allowed).toBe(false);
    expect(wholeProject.reason).toContain('only in staging of shop');
    expect(ask({ email: 'riley@acme.com', permission: 'view', project: 'blog' }).allowed).toBe(false);
    expect(ask({ email: 'riley@acme.com', permission: 'view' }).allowed).toBe(true);
    expect(ask({ email: 'riley@acme.com', permission: 'manageProjects' }).allowed).toBe(false);
  });

  it('says no, with why, until a membership is Active', () => {
    const cases: Array<[string, RegExp]> = [
      ['pat@acme.com', /has not accepted the invitation yet \(membership pat is Invited\)/],
      ['quin@acme.com', /accepted at 2026-03-01T11:00:00Z but is not provisioned yet: namespace shop-prod not found/],
      ['temp@acme.com', /membership temp expired at 2026-03-01T11:59:00Z/],
      ['over@acme.com', /over the team's seat limit/],
      ['fresh@acme.com', /has not been reconciled by the operator yet/],
    ];
    for (const [email, reason] of cases) {
      const answer = ask({ email, permission: 'view' });
      expect(answer.allowed, email).toBe(false);
      expect(answer.reason, email).toMatch(reason);
      expect(answer.role).toBe('developer');
    }
    const owner = ask({ email: 'liam@acme.com', permission: 'view' }, { ...world, teams: [team('acme', 'liam@acme.com', { ownerPhase: 'Invited' })] });
    expect(owner).toMatchObject({ allowed: false, role: 'owner' });
    expect(owner.reason).toMatch(/has not accepted the owner invitation yet/);
  });

  it('says no to strangers, and mentions an invitation waiting for them', () => {
    expect(ask({ email: 'stranger@acme.com', permission: 'view' })).toMatchObject({
      allowed: false,
      reason: 'stranger@acme.com is neither the owner nor a member of team acme',
    });
    expect(ask({ email: 'Jordan@Acme.com', permission: 'view' }).reason).toMatch(/invitation jordan-x1 \(observer\) is waiting for them to accept/);
    expect(ask({ email: 'a@b.com', permission: 'view' }, { ...world, teams: [] }).reason).toBe('there are no teams in namespace ns');
  });

  it('finds the person whatever the case, but answers for the Kubernetes user as written (issue 10 item 8)', () => {
    // The kubernetes backend binds spec.email as written; user names are case-sensitive, so
    // `kubectl auth can-i --as NOAH@acme.com` says no, and so does this.
    const other = ask({ email: 'NOAH@acme.com', permission: 'manageMembers' });
    expect(other).toMatchObject({ allowed: false, email: 'NOAH@acme.com', user: 'noah@acme.com', role: 'admin', via: 'membership/noah' });
    expect(other.reason).toBe(
      'Kubernetes user NOAH@acme.com gets nothing from Roster: Membership noah binds Kubernetes user noah@acme.com as written in spec.email (user names are case-sensitive): the authenticator must present exactly that. For noah@acme.com the answer is yes: noah@acme.com is admin in team acme (membership/noah): role admin grants manageMembers (manage members and invitations) team-wide',
    );
    expect(other.warnings).toEqual([
      'asked about NOAH@acme.com, but Membership noah binds Kubernetes user noah@acme.com as written in spec.email (user names are case-sensitive): the authenticator must present exactly that',
    ]);
    // As written: yes, naming the user, no warning.
    const exact = ask({ email: 'noah@acme.com', permission: 'manageMembers' });
    expect(exact).toMatchObject({ allowed: true, user: 'noah@acme.com' });
    expect(exact.warnings).toBeUndefined();

    // A Membership written in mixed case binds that spelling.
    const mixed: NamespaceObjects = {
      ...world,
      memberships: [...world.memberships, membership('casey', 'acme', 'Casey@Acme.com', 'developer', { phase: 'Active' })],
    };
    const written = ask({ email: 'Casey@Acme.com', permission: 'deploy', project: 'shop', environment: 'staging' }, mixed);
    expect(written).toMatchObject({ allowed: true, user: 'Casey@Acme.com', via: 'membership/casey' });
    expect(written.warnings).toBeUndefined();
    const lower = ask({ email: 'casey@acme.com', permission: 'deploy', project: 'shop', environment: 'staging' }, mixed);
    expect(lower).toMatchObject({ allowed: false, user: 'Casey@Acme.com', role: 'developer' });
    expect(lower.reason).toMatch(
      /^Kubernetes user casey@acme\.com gets nothing from Roster: Membership casey binds Kubernetes user Casey@Acme\.com as written in spec\.email \(user names.*For Casey@Acme\.com the answer is yes: Casey@Acme\.com is developer in team acme/,
    );
    expect(lower.warnings).toHaveLength(1);
    // A no for the written spelling stays a no, and says so.
    const billing = ask({ email: 'casey@acme.com', permission: 'billing' }, mixed);
    expect(billing.reason).toMatch(/For Casey@Acme\.com the answer is no: .*role developer does not grant billing/);

    // The owner: Team spec.owner.email as written.
    const owned = { ...world, teams: [team('acme', 'Liam@Acme.com', { ownerPhase: 'Active' })] };
    expect(ask({ email: 'Liam@Acme.com', permission: 'changePlan' }, owned)).toMatchObject({ allowed: true, user: 'Liam@Acme.com', via: 'team/acme' });
    const owner = ask({ email: 'liam@acme.com', permission: 'changePlan' }, owned);
    expect(owner).toMatchObject({ allowed: false, user: 'Liam@Acme.com' });
    expect(owner.warnings?.[0]).toContain('Team acme binds Kubernetes user Liam@Acme.com as written in spec.owner.email');

    // Strangers and pending invitations name no user.
    expect(ask({ email: 'Jordan@Acme.com', permission: 'view' }).user).toBeUndefined();
  });

  it('needs to know the team when the person is in several, and finds it from the project', () => {
    const two: NamespaceObjects = {
      ...world,
      teams: [acme, team('beta', 'bea@beta.com', { ownerPhase: 'Active' })],
      projects: [...world.projects, project('wiki', 'beta', ['production'])],
      memberships: [...world.memberships, membership('noah-beta', 'beta', 'noah@acme.com', 'observer', { phase: 'Active' })],
    };
    expect(reviewPersonAccess(two, { email: 'noah@acme.com', permission: 'deploy' }, now, allAssigned(two))).toEqual({
      kind: 'ambiguous',
      teams: ['acme', 'beta'],
    });
    expect(ask({ email: 'noah@acme.com', permission: 'deploy', team: 'beta' }, two)).toMatchObject({ allowed: false, team: 'beta', role: 'observer' });
    expect(ask({ email: 'noah@acme.com', permission: 'deploy', project: 'wiki' }, two)).toMatchObject({ allowed: false, team: 'beta' });
    expect(ask({ email: 'noah@acme.com', permission: 'deploy', project: 'shop' }, two)).toMatchObject({ allowed: true, team: 'acme' });
    expect(reviewPersonAccess(two, { email: 'noah@acme.com', permission: 'view', team: 'gamma' }, now, allAssigned(two))).toEqual({
      kind: 'teamNotFound',
      team: 'gamma',
    });
  });

  it('reports projects and environments that do not exist', () => {
    expect(ask({ email: 'noah@acme.com', permission: 'view', project: 'nope' }).reason).toMatch(/project nope does not exist; .* use one of: blog, shop/);
    expect(ask({ email: 'noah@acme.com', permission: 'view', project: 'shop', environment: 'qa' }).reason).toMatch(/project shop has no environment "qa"/);
  });
});

describe('can-i and the tenancy rule (SPEC §7)', () => {
  // Team acme lives in its control namespace `acme`; shop runs in namespaces assigned to it,
  // ops points at every namespace a team must never reach (as if admission had let it through).
  const envProject = (name: string, envs: Array<[string, string]>): Project => {
    const p = project(name, 'acme', ['x']);
    const environments = envs.map(([env, namespace]) => ({ name: env, namespace }));
    return { ...p, metadata: { ...p.metadata, namespace: 'acme' }, spec: { team: 'acme', environments: [environments[0]!, ...environments.slice(1)] } };
  };
  const objects: NamespaceObjects = {
    namespace: 'acme',
    teams: [team('acme', 'liam@acme.com', { ownerPhase: 'Active' })],
    projects: [
      envProject('shop', [
        ['production', 'shop-prod'],
        ['staging', 'shop-staging'],
      ]),
      envProject('ops', [
        ['system', 'kube-system'],
        ['operator', 'roster-system'],
        ['foreign', 'globex-prod'],
        ['loose', 'loose'],
        ['control', 'globex'],
        ['own', 'acme'],
        ['later', 'not-yet'],
        ['secret', 'hidden'],
      ]),
      envProject('mixed', [
        ['production', 'shop-prod'],
        ['system', 'kube-system'],
      ]),
    ],
    memberships: [
      membership('noah', 'acme', 'noah@acme.com', 'admin', { phase: 'Active' }),
      membership('riley', 'acme', 'riley@acme.com', 'developer', { phase: 'Active', projects: [{ name: 'shop', environments: ['staging'] }] }),
      membership('obi', 'acme', 'obi@acme.com', 'observer', { phase: 'Active' }),
    ],
    invitations: [],
  };
  const mine = { 'roster.dev/team': 'acme' };
  const readings = new Map<string, NamespaceReading>([
    ['shop-prod', { labels: mine, holdsTeam: false }],
    ['shop-staging', { labels: { ...mine, other: 'x' }, holdsTeam: false }],
    ['globex-prod', { labels: { 'roster.dev/team': 'globex' }, holdsTeam: false }],
    ['loose', { labels: {}, holdsTeam: false }],
    // Labelled for acme, but another Team lives there: still never an environment.
    ['globex', { labels: mine, holdsTeam: true }],
    ['not-yet', { labels: undefined, holdsTeam: false }],
    ['hidden', { labels: { unreadable: 'the API server does not let you get namespace hidden' }, holdsTeam: false }],
    // Labels a reserved namespace might carry change nothing.
    ['kube-system', { labels: mine, holdsTeam: false }],
    ['roster-system', { labels: mine, holdsTeam: false }],
  ]);
  const tenancy: TenancyInput = { policy, namespaces: readings };
  const answer = (question: AccessQuestion, t: TenancyInput = tenancy, o: NamespaceObjects = objects) => {
    const outcome = reviewPersonAccess(o, question, now, t);
    if (outcome.kind !== 'answer') throw new Error(`expected an answer, got ${outcome.kind}`);
    return outcome.answer;
  };
  const admin = (environment: string, project = 'ops') => answer({ email: 'noah@acme.com', permission: 'deploy', project, environment });

  it('says no for an environment in a namespace the team may never reach, with the rule as the reason', () => {
    const cases: Array<[string, string]> = [
      ['system', 'namespace kube-system is a system namespace and never serves as an environment; use a namespace of your own'],
      ['operator', "namespace roster-system is the roster operator's own namespace and never serves as an environment"],
      ['foreign', 'namespace globex-prod is assigned to the team in namespace globex (roster.dev/team=globex), not to the team in namespace acme'],
      [
        'loose',
        'namespace loose is not assigned to the team in namespace acme; a cluster admin assigns it with `kubectl label namespace loose roster.dev/team=acme`',
      ],
      ['control', "namespace globex holds another team's roster objects and never serves as an environment"],
      ['own', "namespace acme holds the team's own roster objects and never serves as an environment"],
      [
        'later',
        'namespace not-yet does not exist yet; nobody gets access there until it exists and a cluster admin assigns it to the team in namespace acme (kubectl label namespace not-yet roster.dev/team=acme)',
      ],
    ];
    for (const [environment, reason] of cases) {
      const a = admin(environment);
      expect(a.allowed, environment).toBe(false);
      expect(a.reason, environment).toContain(
        `noah@acme.com is admin in team acme (membership/noah): role admin would grant deploy in ops/${environment}, but Roster grants nothing there: ${reason}`,
      );
      expect(a.unreachable, environment).toHaveLength(1);
      expect(a.unreachable![0]).toMatchObject({ project: 'ops', environment, assignment: environment === 'later' ? 'missing' : 'refused' });
    }
    // The owner fares no better than an admin.
    expect(answer({ email: 'liam@acme.com', permission: 'deploy', project: 'ops', environment: 'system' }).allowed).toBe(false);
  });

  it('says yes only in namespaces assigned to the team', () => {
    expect(admin('production', 'shop')).toMatchObject({ allowed: true, reason: expect.stringContaining('grants deploy') });
    expect(admin('production', 'shop').unreachable).toBeUndefined();
    expect(answer({ email: 'noah@acme.com', permission: 'deploy', project: 'shop' }).allowed).toBe(true);
    expect(answer({ email: 'riley@acme.com', permission: 'deploy', project: 'shop', environment: 'staging' }).allowed).toBe(true);
    // Assigned by a label under the operator's key, not any key: with another key configured, shop-prod is not assigned.
    const other = answer(
      { email: 'noah@acme.com', permission: 'deploy', project: 'shop', environment: 'production' },
      { policy: { ...policy, namespaceLabel: 'platform.example/team' }, namespaces: readings },
    );
    expect(other.allowed).toBe(false);
    expect(other.reason).toContain('kubectl label namespace shop-prod platform.example/team=acme');
    // And the operator's namespace is whatever the operator runs in.
    const movedOperator = answer(
      { email: 'noah@acme.com', permission: 'deploy', project: 'shop', environment: 'production' },
      { policy: { ...policy, operatorNamespace: 'shop-prod' }, namespaces: readings },
    );
    expect(movedOperator.allowed).toBe(false);
    expect(movedOperator.reason).toContain("namespace shop-prod is the roster operator's own namespace");
  });

  it('says it cannot tell, and no, when the namespace could not be read', () => {
    const hidden = admin('secret');
    expect(hidden.allowed).toBe(false);
    expect(hidden.unreachable![0]!.assignment).toBe('unknown');
    expect(hidden.reason).toContain(
      'cannot tell whether namespace hidden is assigned to the team in namespace acme: the API server does not let you get namespace hidden; ask someone who may read it, or a cluster admin: kubectl get namespace hidden --show-labels',
    );
    // Labels say assigned but the Teams there could not be listed: a Team there would refuse it, so cannot tell.
    const teamsHidden = new Map(readings).set('shop-prod', {
      labels: mine,
      holdsTeam: { unreadable: 'the API server does not let you list teams in namespace shop-prod' },
    });
    const unsure = admin('production', 'shop');
    expect(unsure.allowed).toBe(true);
    const noTeams = answer({ email: 'noah@acme.com', permission: 'deploy', project: 'shop', environment: 'production' }, { policy, namespaces: teamsHidden });
    expect(noTeams.allowed).toBe(false);
    expect(noTeams.reason).toContain(
      'cannot tell whether namespace shop-prod is assigned to the team in namespace acme: the API server does not let you list teams in namespace shop-prod',
    );
    // Labels say not assigned: the answer is no whatever the Teams there, so the reason is the rule's.
    const looseHidden = new Map(readings).set('loose', { labels: {}, holdsTeam: { unreadable: 'forbidden' } });
    expect(
      answer({ email: 'noah@acme.com', permission: 'deploy', project: 'ops', environment: 'loose' }, { policy, namespaces: looseHidden }).reason,
    ).toContain('is not assigned to the team in namespace acme');
    // A namespace nobody read counts as unreadable, never as assigned.
    const unread = answer({ email: 'noah@acme.com', permission: 'deploy', project: 'shop', environment: 'production' }, { policy, namespaces: new Map() });
    expect(unread.allowed).toBe(false);
    expect(unread.reason).toContain('cannot tell whether namespace shop-prod is assigned');
  });

  it('for a whole project, yes only when every environment is reachable', () => {
    const ops = answer({ email: 'noah@acme.com', permission: 'view', project: 'ops' });
    expect(ops.allowed).toBe(false);
    expect(ops.reason).toMatch(
      /^noah@acme\.com is admin in team acme \(membership\/noah\): Roster grants nothing in project ops: ops\/system: namespace kube-system is a system namespace/,
    );
    expect(ops.unreachable!.map((u) => u.environment)).toEqual(['system', 'operator', 'foreign', 'loose', 'control', 'own', 'later', 'secret']);
    const mixed = answer({ email: 'noah@acme.com', permission: 'deploy', project: 'mixed' });
    expect(mixed.allowed).toBe(false);
    expect(mixed.reason).toContain('role admin grants deploy only in production of mixed, not in mixed/system: namespace kube-system is a system namespace');
    expect(mixed.reason).toMatch(/ask about one environment$/);
  });

  it('without a project, yes while some environment is reachable, naming those that are not', () => {
    const anywhere = answer({ email: 'noah@acme.com', permission: 'deploy' });
    expect(anywhere.allowed).toBe(true);
    expect(anywhere.reason).toContain('role admin grants deploy (');
    expect(anywhere.reason).toContain(', except where Roster grants nothing: mixed/system: namespace kube-system is a system namespace');
    expect(anywhere.unreachable!.map((u) => `${u.project}/${u.environment}`)).toContain('ops/foreign');
    // A team whose every environment is out of reach: no.
    const onlyOps: NamespaceObjects = { ...objects, projects: objects.projects.filter((p) => p.metadata.name === 'ops') };
    const nowhere = answer({ email: 'noah@acme.com', permission: 'deploy' }, tenancy, onlyOps);
    expect(nowhere.allowed).toBe(false);
    expect(nowhere.reason).toContain(
      'role admin would grant deploy, but Roster grants nothing in any environment in its scope: ops/system: namespace kube-system',
    );
  });

  it('leaves team-wide permissions and matrix refusals alone, and reads only the namespaces the answer rests on', () => {
    expect(answer({ email: 'noah@acme.com', permission: 'manageMembers' })).toMatchObject({ allowed: true });
    expect(answer({ email: 'noah@acme.com', permission: 'manageMembers' }).unreachable).toBeUndefined();
    expect(namespacesToRead(objects, { email: 'noah@acme.com', permission: 'manageMembers' }, now, policy)).toEqual([]);
    // The matrix already says no: the reason stays the matrix's.
    const observer = answer({ email: 'obi@acme.com', permission: 'deploy', project: 'ops', environment: 'system' });
    expect(observer.allowed).toBe(false);
    expect(observer.reason).toContain('role observer does not grant deploy');
    expect(namespacesToRead(objects, { email: 'obi@acme.com', permission: 'deploy', project: 'ops', environment: 'system' }, now, policy)).toEqual([]);
    // Namespaces refused by name (system, the operator's, the control namespace) need no read.
    expect(namespacesToRead(objects, { email: 'noah@acme.com', permission: 'deploy', project: 'ops', environment: 'system' }, now, policy)).toEqual([]);
    expect(namespacesToRead(objects, { email: 'noah@acme.com', permission: 'deploy', project: 'ops' }, now, policy)).toEqual([
      'globex',
      'globex-prod',
      'hidden',
      'loose',
      'not-yet',
    ]);
    expect(namespacesToRead(objects, { email: 'noah@acme.com', permission: 'deploy', project: 'shop', environment: 'staging' }, now, policy)).toEqual([
      'shop-staging',
    ]);
    // A scoped developer's answer rests on its scope only.
    expect(namespacesToRead(objects, { email: 'riley@acme.com', permission: 'deploy' }, now, policy)).toEqual(['shop-staging']);
    expect(namespacesToRead(objects, { email: 'stranger@acme.com', permission: 'deploy' }, now, policy)).toEqual([]);
  });
});
