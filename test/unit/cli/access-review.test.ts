import { describe, expect, it } from 'vitest';
import { reviewPersonAccess, type AccessQuestion, type NamespaceObjects } from '../../../src/cli/access-review.ts';
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
    membership('quin', 'acme', 'quin@acme.com', 'developer', { phase: 'Invited', acceptedAt: '2026-03-01T11:00:00Z', conditions: [condition('IdentitySynced', 'False', 'namespace shop-prod not found')] }),
    membership('temp', 'acme', 'temp@acme.com', 'developer', { phase: 'Active', expiresAt: '2026-03-01T11:59:00Z' }),
    membership('over', 'acme', 'over@acme.com', 'developer', { phase: 'OverSeatLimit' }),
    membership('fresh', 'acme', 'fresh@acme.com', 'developer'),
  ],
  invitations: [invitation('jordan-x1', 'acme', 'jordan@acme.com', 'observer', { phase: 'Pending' })],
};

function ask(question: AccessQuestion, objects: NamespaceObjects = world) {
  const outcome = reviewPersonAccess(objects, question, now);
  if (outcome.kind !== 'answer') throw new Error(`expected an answer, got ${outcome.kind}`);
  return outcome.answer;
}

describe('can-i decisions', () => {
  it('answers from the role matrix for team-wide roles', () => {
    expect(ask({ email: 'liam@acme.com', permission: 'changePlan' })).toMatchObject({ allowed: true, role: 'owner', via: 'team/acme', team: 'acme' });
    expect(ask({ email: 'noah@acme.com', permission: 'manageMembers' })).toMatchObject({ allowed: true, role: 'admin', via: 'membership/noah' });
    const noahBilling = ask({ email: 'noah@acme.com', permission: 'billing' });
    expect(noahBilling.allowed).toBe(false);
    expect(noahBilling.reason).toBe('noah@acme.com is admin in team acme (membership/noah): role admin does not grant billing (view and manage billing, invoices, payment methods)');
    expect(ask({ email: 'maya@acme.com', permission: 'billing' }).allowed).toBe(true);
    expect(ask({ email: 'maya@acme.com', permission: 'view', project: 'shop' }).allowed).toBe(false);
    expect(ask({ email: 'obi@acme.com', permission: 'view', project: 'blog', environment: 'production' }).allowed).toBe(true);
    expect(ask({ email: 'obi@acme.com', permission: 'deploy', project: 'blog' }).allowed).toBe(false);
  });

  it('honours a scoped membership down to the environment', () => {
    expect(ask({ email: 'riley@acme.com', permission: 'deploy', project: 'shop', environment: 'staging' })).toMatchObject({ allowed: true, scope: 'shop (staging)' });
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

  it('matches emails regardless of case', () => {
    expect(ask({ email: 'NOAH@acme.com', permission: 'manageMembers' }).allowed).toBe(true);
  });

  it('needs to know the team when the person is in several, and finds it from the project', () => {
    const two: NamespaceObjects = {
      ...world,
      teams: [acme, team('beta', 'bea@beta.com', { ownerPhase: 'Active' })],
      projects: [...world.projects, project('wiki', 'beta', ['production'])],
      memberships: [...world.memberships, membership('noah-beta', 'beta', 'noah@acme.com', 'observer', { phase: 'Active' })],
    };
    expect(reviewPersonAccess(two, { email: 'noah@acme.com', permission: 'deploy' }, now)).toEqual({ kind: 'ambiguous', teams: ['acme', 'beta'] });
    expect(ask({ email: 'noah@acme.com', permission: 'deploy', team: 'beta' }, two)).toMatchObject({ allowed: false, team: 'beta', role: 'observer' });
    expect(ask({ email: 'noah@acme.com', permission: 'deploy', project: 'wiki' }, two)).toMatchObject({ allowed: false, team: 'beta' });
    expect(ask({ email: 'noah@acme.com', permission: 'deploy', project: 'shop' }, two)).toMatchObject({ allowed: true, team: 'acme' });
    expect(reviewPersonAccess(two, { email: 'noah@acme.com', permission: 'view', team: 'gamma' }, now)).toEqual({ kind: 'teamNotFound', team: 'gamma' });
  });

  it('reports projects and environments that do not exist', () => {
    expect(ask({ email: 'noah@acme.com', permission: 'view', project: 'nope' }).reason).toMatch(/project nope does not exist; .* use one of: blog, shop/);
    expect(ask({ email: 'noah@acme.com', permission: 'view', project: 'shop', environment: 'qa' }).reason).toMatch(/project shop has no environment "qa"/);
  });
});
