import { describe, it, expect } from 'vitest';
import {
  can,
  grantOf,
  hasProjectAccess,
  isTeamWideRole,
  mayManageRoster,
  MEMBER_ROLES,
  memberRoleProblem,
  parseMemberRole,
  parsePermission,
  parseRole,
  PERMISSIONS,
  renderRoleMatrixMarkdown,
  ROLE_DESCRIPTIONS,
  ROLE_MATRIX,
  ROLES,
} from '../../../src/domain/roles.ts';

// SPEC §2, verbatim.
const SPEC_TABLE = `| permission | owner | admin | developer | observer | billing |
|---|---|---|---|---|---|
| view sites, environments, observability, audit | Y | Y | Y (in scope) | Y (in scope) | - |
| deploy, manage environments, plugins/themes, domains, snapshots | Y | Y | Y (in scope) | - | - |
| register / delete sites, manage projects | Y | Y | - | - | - |
| manage members and invitations | Y | Y | - | - | - |
| security and integration settings, API keys | Y | Y | - | - | - |
| view and manage billing, invoices, payment methods | Y | - | - | - | Y |
| change the plan (seats), transfer ownership, delete the team | Y | - | - | - | - |
`;

describe('the role matrix', () => {
  it('renders exactly the SPEC §2 table', () => {
    expect(renderRoleMatrixMarkdown()).toBe(SPEC_TABLE);
  });

  it('lists roles and permissions in the SPEC order', () => {
    expect(ROLES).toEqual(['owner', 'admin', 'developer', 'observer', 'billing']);
    expect(MEMBER_ROLES).toEqual(['admin', 'developer', 'observer', 'billing']);
    expect(PERMISSIONS).toEqual(['view', 'deploy', 'manageProjects', 'manageMembers', 'securitySettings', 'billing', 'changePlan']);
  });

  it('has one row per permission, a grant for every role, and distinct descriptions', () => {
    expect(new Set(ROLE_MATRIX.map((r) => r.permission)).size).toBe(ROLE_MATRIX.length);
    expect(new Set(ROLE_MATRIX.map((r) => r.description)).size).toBe(ROLE_MATRIX.length);
    for (const row of ROLE_MATRIX) expect(Object.keys(row.grants).sort()).toEqual([...ROLES].sort());
  });

  it('gives the owner everything', () => {
    for (const permission of PERMISSIONS) expect(grantOf('owner', permission)).toBe('yes');
  });

  it('answers grantOf from the table', () => {
    expect(grantOf('admin', 'manageMembers')).toBe('yes');
    expect(grantOf('admin', 'billing')).toBe('no');
    expect(grantOf('admin', 'changePlan')).toBe('no');
    expect(grantOf('developer', 'deploy')).toBe('inScope');
    expect(grantOf('observer', 'view')).toBe('inScope');
    expect(grantOf('observer', 'deploy')).toBe('no');
    expect(grantOf('billing', 'billing')).toBe('yes');
    expect(grantOf('billing', 'view')).toBe('no');
  });

  it('can() counts inScope grants only when asked about a place in scope', () => {
    expect(can('developer', 'deploy')).toBe(true);
    expect(can('developer', 'deploy', { inScope: false })).toBe(false);
    expect(can('admin', 'deploy', { inScope: false })).toBe(true);
    expect(can('observer', 'deploy')).toBe(false);
    expect(can('billing', 'changePlan')).toBe(false);
    expect(can('owner', 'changePlan')).toBe(true);
  });

  it('has a description per role', () => {
    for (const role of ROLES) expect(ROLE_DESCRIPTIONS[role].length).toBeGreaterThan(5);
    expect(ROLE_DESCRIPTIONS.admin).toContain('team-wide');
  });
});

describe('derived role properties', () => {
  it('team-wide roles are admin, billing and the owner', () => {
    expect(ROLES.filter(isTeamWideRole)).toEqual(['owner', 'admin', 'billing']);
  });

  it('billing has no access in project namespaces', () => {
    expect(ROLES.filter(hasProjectAccess)).toEqual(['owner', 'admin', 'developer', 'observer']);
  });

  it('only owner and admin manage the roster', () => {
    expect(ROLES.filter(mayManageRoster)).toEqual(['owner', 'admin']);
  });
});

describe('parsing', () => {
  it('parses member roles exactly, never owner', () => {
    expect(parseMemberRole('admin')).toBe('admin');
    expect(parseMemberRole('billing')).toBe('billing');
    expect(parseMemberRole('owner')).toBeUndefined();
    expect(parseMemberRole('Admin')).toBeUndefined();
    expect(parseMemberRole(' admin')).toBeUndefined();
    expect(parseMemberRole('')).toBeUndefined();
    expect(parseMemberRole('constructor')).toBeUndefined();
  });

  it('parses any role and permissions', () => {
    expect(parseRole('owner')).toBe('owner');
    expect(parseRole('root')).toBeUndefined();
    expect(parsePermission('deploy')).toBe('deploy');
    expect(parsePermission('delete')).toBeUndefined();
  });

  it('explains a bad member role in words that say what to do', () => {
    expect(memberRoleProblem('developer')).toBeUndefined();
    expect(memberRoleProblem('owner')).toMatch(/exactly one owner.*Team spec\.owner.*use role admin instead/);
    expect(memberRoleProblem('root')).toBe('role must be one of admin, developer, observer, billing, not "root"');
  });
});
