// `kubectl roster invite` asks the webhook's own validator before it sends: for the same
// team, its answer (allowed or not, and the message word for word) is the webhook's answer
// to the create, here the AdmissionHandler over caches holding the same objects.
import { describe, expect, it } from 'vitest';
import type { Invitation, Membership, Project, Team } from '../../../src/api/generated.ts';
import { AdmissionHandler, type SeatReserver } from '../../../src/admission/handler.ts';
import { validateInvitation } from '../../../src/admission/validators.ts';
import { admissionViewOf, creationOf } from '../../../src/cli/admission-view.ts';
import { silentLogger } from '../../../src/runtime/logger.ts';
import { FakeCache, invitation, membership, NOW, NS, project, team } from '../admission/fixtures.ts';

interface World {
  team: Team;
  memberships: Membership[];
  invitations: Invitation[];
  projects: Project[];
}

const world = (parts: Partial<World> = {}): World => ({ team: team(), memberships: [], invitations: [], projects: [project('shop')], ...parts });

/** What the CLI concludes before sending. */
function cliVerdict(w: World, inv: Invitation): { allowed: boolean; message?: string; warnings?: readonly string[] } {
  const v = validateInvitation(creationOf(inv), admissionViewOf(w), { now: NOW });
  return v.allowed ? { allowed: true, warnings: v.warnings } : { allowed: false, message: v.message };
}

/** What the webhook answers to the create. */
async function webhookVerdict(w: World, inv: Invitation): Promise<{ allowed: boolean; message?: string; warnings?: readonly string[] }> {
  const ledger: SeatReserver = { reserve: async () => ({ kind: 'reserve', inUse: 1, limit: w.team.spec.seats }), live: async () => [] };
  const handler = new AdmissionHandler({
    caches: {
      teams: new FakeCache([w.team]),
      memberships: new FakeCache(w.memberships),
      invitations: new FakeCache(w.invitations),
      projects: new FakeCache(w.projects),
    },
    ledger,
    logger: silentLogger,
    now: () => NOW,
  });
  const { response } = await handler.validate(
    {
      uid: 'u1',
      kind: { group: 'roster.dev', version: 'v1alpha1', kind: 'Invitation' },
      namespace: NS,
      operation: 'CREATE',
      userInfo: { username: 'noah@acme.com', groups: [] },
      object: inv,
      dryRun: false,
    },
    Date.now() + 5_000,
  );
  return response.allowed ? { allowed: true, warnings: response.warnings ?? [] } : { allowed: false, message: response.status?.message };
}

/** An invitation as the CLI builds it: no name yet (generateName), no uid. */
function asCli(spec: Partial<Invitation['spec']>): Invitation {
  const inv = invitation('x', spec);
  return { ...inv, metadata: { generateName: 'x-', namespace: NS, labels: { 'roster.dev/team': 'acme', 'roster.dev/created-by': 'kubectl-roster' } } };
}

const cases: Array<[string, World, Invitation, RegExp | undefined]> = [
  ['a new person', world(), asCli({ email: 'kai@acme.com', role: 'developer', projects: [{ name: 'shop', environments: ['staging'] }] }), undefined],
  ['the owner', world(), asCli({ email: 'Liam@acme.com' }), /Liam@acme\.com is the owner of team acme/],
  [
    'a member',
    world({ memberships: [membership('noah', { role: 'admin' })] }),
    asCli({ email: 'NOAH@acme.com' }),
    /already has Membership noah in team acme; edit its spec\.role/,
  ],
  [
    'someone already invited',
    world({ invitations: [invitation('jordan-abcde', { email: 'jordan@acme.com' })] }),
    asCli({ email: 'jordan@acme.com' }),
    /a pending invitation jordan-abcde for jordan@acme\.com already exists/,
  ],
  [
    'an unknown project',
    world(),
    asCli({ email: 'x@acme.com', role: 'developer', projects: [{ name: 'blog' }] }),
    /^project blog does not exist; create a Project named blog first, or use one of: shop$/,
  ],
  [
    'a full team',
    world({ team: team({ seats: 2 }), memberships: [membership('noah')] }),
    asCli({ email: 'zed@acme.com' }),
    /^team acme has 2 of 2 seats in use; raise spec\.seats or remove a member$/,
  ],
  ['a team-wide role with projects', world(), asCli({ email: 'x@acme.com', role: 'admin', projects: [{ name: 'shop' }] }), /role admin is team-wide/],
  ['an address in mixed case (a warning)', world(), asCli({ email: 'Kai@acme.com' }), undefined],
];

describe('invite: the CLI says what the webhook would', () => {
  for (const [what, w, inv, denial] of cases) {
    it(what, async () => {
      const cli = cliVerdict(w, inv);
      expect(cli).toEqual(await webhookVerdict(w, inv));
      if (denial) {
        expect(cli.allowed).toBe(false);
        expect(cli.message).toMatch(denial);
      } else {
        expect(cli.allowed).toBe(true);
      }
    });
  }

  it('passes the webhook its warnings (an address not in lower case)', () => {
    expect(cliVerdict(world(), asCli({ email: 'Kai@acme.com' })).warnings?.join(' ')).toContain('Kai@acme.com');
  });
});
