import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  chunks,
  desiredGroups,
  groupName,
  groupTag,
  isTagOfTeam,
  parseGroupTag,
  planMembership,
  teamTag,
  type GroupSpec,
} from '../../../../src/backends/identity/groups.ts';
import { ROLES } from '../../../../src/domain/roles.ts';

const team = { namespace: 'acme', name: 'acme' };

describe('group names and tags', () => {
  it('names the team, role and scope groups', () => {
    expect(groupName({ team })).toBe('roster_acme_acme');
    expect(groupName({ team, role: 'developer' })).toBe('roster_acme_acme_developer');
    expect(groupName({ team, role: 'developer', scope: { project: 'shop', environment: 'staging' } })).toBe('roster_acme_acme_developer_shop_staging');
    expect(groupName({ team, role: 'admin' }, 'corp')).toBe('corp_acme_acme_admin');
  });

  it('tags carry the exact identity and read back', () => {
    const spec: GroupSpec = { team, role: 'observer', scope: { project: 'shop.v2', environment: 'prod-eu' } };
    expect(groupTag(spec)).toBe('acme/acme/observer/shop.v2/prod-eu');
    expect(parseGroupTag(groupTag(spec))).toEqual(spec);
    expect(parseGroupTag('acme/acme')).toEqual({ team });
    expect(teamTag(team)).toBe('acme/acme');
  });

  it('refuses what is not a tag', () => {
    for (const bad of [
      '',
      'acme',
      'acme/acme/superuser',
      'acme/acme/admin/shop',
      'acme/acme/admin/shop/prod/x',
      'Acme/acme',
      'acme//admin',
      'acme/acme/admin/shop/prod eu',
    ]) {
      expect(parseGroupTag(bad), bad).toBeUndefined();
    }
  });

  it('a name never means two groups: distinct Kubernetes names give distinct group names', () => {
    const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?$/);
    const subdomain = fc.stringMatching(/^[a-z0-9]([-a-z0-9.]{0,8}[a-z0-9])?$/);
    const spec = fc
      .record({
        team: fc.record({ namespace: label, name: subdomain }),
        role: fc.option(fc.constantFrom(...ROLES), { nil: undefined }),
        scope: fc.option(fc.record({ project: subdomain, environment: label }), { nil: undefined }),
      })
      .map((s) => (s.role ? s : { team: s.team }) as GroupSpec);
    fc.assert(
      fc.property(spec, spec, (a, b) => {
        if (groupTag(a) !== groupTag(b)) expect(groupName(a)).not.toBe(groupName(b));
      }),
    );
  });

  it('knows which team a tag belongs to, even for look-alike team names', () => {
    expect(isTagOfTeam('acme/acme/admin', team)).toBe(true);
    expect(isTagOfTeam('acme/acme-admin', team)).toBe(false);
    expect(isTagOfTeam('other/acme/admin', team)).toBe(false);
    expect(isTagOfTeam('garbage', team)).toBe(false);
  });
});

describe('desiredGroups', () => {
  it('is the team group, the role group and one group per environment in scope', () => {
    const groups = desiredGroups({
      team,
      role: 'developer',
      targets: [
        { project: 'shop', environment: 'staging', namespace: 'shop-staging' },
        { project: 'shop', environment: 'staging', namespace: 'shop-staging-2' },
        { project: 'blog', environment: 'production', namespace: 'blog' },
      ],
    });
    expect(groups.map(groupTag)).toEqual(['acme/acme', 'acme/acme/developer', 'acme/acme/developer/shop/staging', 'acme/acme/developer/blog/production']);
  });

  it('billing reaches no environment: team and role groups only', () => {
    expect(desiredGroups({ team, role: 'billing', targets: [] }).map(groupTag)).toEqual(['acme/acme', 'acme/acme/billing']);
  });
});

describe('planMembership', () => {
  const desired = desiredGroups({ team, role: 'observer', targets: [{ project: 'shop', environment: 'staging', namespace: 's' }] });

  it("adds what is missing and removes only the team's Roster groups the grant does not cover", () => {
    const held = [
      { tag: 'acme/acme', ref: 'g1' },
      { tag: 'acme/acme/developer', ref: 'g2' }, // old role
      { tag: 'acme/acme/developer/shop/staging', ref: 'g3' }, // old scope
      { tag: 'acme/other/admin', ref: 'g4' }, // another team: never
      { tag: 'not a tag', ref: 'g5' }, // unreadable marker: never
    ];
    const plan = planMembership(team, desired, held);
    expect(plan.add.map(groupTag)).toEqual(['acme/acme/observer', 'acme/acme/observer/shop/staging']);
    expect(plan.remove.map((h) => h.ref)).toEqual(['g2', 'g3']);
  });

  it('changes nothing when the backend already matches', () => {
    const plan = planMembership(
      team,
      desired,
      desired.map((d, i) => ({ tag: groupTag(d), ref: i })),
    );
    expect(plan).toEqual({ add: [], remove: [] });
  });

  it('removes everything of the team for an empty desired set (removal), each group once', () => {
    const plan = planMembership(
      team,
      [],
      [
        { tag: 'acme/acme', ref: 1 },
        { tag: 'acme/acme', ref: 1 },
        { tag: 'acme/acme/admin', ref: 2 },
      ],
    );
    expect(plan.remove.map((h) => h.ref)).toEqual([1, 2]);
    expect(plan.add).toEqual([]);
  });

  it('never removes a desired group, whatever the backend reports', () => {
    const tags = fc.constantFrom('acme/acme', 'acme/acme/observer', 'acme/acme/observer/shop/staging', 'acme/acme/admin', 'acme/x/admin', 'junk');
    fc.assert(
      fc.property(fc.array(tags, { maxLength: 10 }), (heldTags) => {
        const plan = planMembership(
          team,
          desired,
          heldTags.map((tag) => ({ tag, ref: tag })),
        );
        const wanted = new Set(desired.map(groupTag));
        for (const r of plan.remove) {
          expect(wanted.has(r.tag)).toBe(false);
          expect(isTagOfTeam(r.tag, team)).toBe(true);
        }
        for (const a of plan.add) expect(heldTags).not.toContain(groupTag(a));
      }),
    );
  });
});

describe('chunks', () => {
  it('splits into batches of at most the size', () => {
    expect(chunks([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunks([], 3)).toEqual([]);
    expect(chunks([1, 2], 0)).toEqual([[1], [2]]);
  });
});
