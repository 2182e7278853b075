// Roles and permissions (SPEC §2): one data table, from which everything else about
// roles is derived — the README table, access checks, which roles may be scoped.

/** Built-in roles, least privilege last in the table's column order (as in the SPEC). */
export const ROLES = ['owner', 'admin', 'developer', 'observer', 'billing'] as const;
export type Role = (typeof ROLES)[number];

/** Roles a Membership or Invitation may carry: the owner is the Team's spec.owner, never a Membership. */
export type MemberRole = Exclude<Role, 'owner'>;
export const MEMBER_ROLES: readonly MemberRole[] = ['admin', 'developer', 'observer', 'billing'];

/** How a role holds a permission: everywhere in the team, only within its project scope, or not at all. */
export type Grant = 'yes' | 'inScope' | 'no';

interface PermissionRow {
  readonly permission: string;
  readonly description: string;
  readonly grants: Readonly<Record<Role, Grant>>;
}

/** THE role/permission matrix. Rows in the SPEC's order; descriptions are the SPEC's row labels. */
export const ROLE_MATRIX = [
  {
    permission: 'view',
    description: 'view sites, environments, observability, audit',
    grants: { owner: 'yes', admin: 'yes', developer: 'inScope', observer: 'inScope', billing: 'no' },
  },
  {
    permission: 'deploy',
    description: 'deploy, manage environments, plugins/themes, domains, snapshots',
    grants: { owner: 'yes', admin: 'yes', developer: 'inScope', observer: 'no', billing: 'no' },
  },
  {
    permission: 'manageProjects',
    description: 'register / delete sites, manage projects',
    grants: { owner: 'yes', admin: 'yes', developer: 'no', observer: 'no', billing: 'no' },
  },
  {
    permission: 'manageMembers',
    description: 'manage members and invitations',
    grants: { owner: 'yes', admin: 'yes', developer: 'no', observer: 'no', billing: 'no' },
  },
  {
    permission: 'securitySettings',
    description: 'security and integration settings, API keys',
    grants: { owner: 'yes', admin: 'yes', developer: 'no', observer: 'no', billing: 'no' },
  },
  {
    permission: 'billing',
    description: 'view and manage billing, invoices, payment methods',
    grants: { owner: 'yes', admin: 'no', developer: 'no', observer: 'no', billing: 'yes' },
  },
  {
    permission: 'changePlan',
    description: 'change the plan (seats), transfer ownership, delete the team',
    grants: { owner: 'yes', admin: 'no', developer: 'no', observer: 'no', billing: 'no' },
  },
] as const satisfies readonly PermissionRow[];

export type Permission = (typeof ROLE_MATRIX)[number]['permission'];
export const PERMISSIONS: readonly Permission[] = ROLE_MATRIX.map((row) => row.permission);

/** One line per role, as the CRDs describe them (for mails, the accept page and the CLI). */
export const ROLE_DESCRIPTIONS: Readonly<Record<Role, string>> = {
  owner: 'everything, including billing, the plan and ownership; exactly one per team',
  admin: 'everything but billing, plan and ownership; team-wide',
  developer: 'deploy and manage environments; may be scoped to projects',
  observer: 'read-only; may be scoped to projects',
  billing: 'billing only; team-wide',
};

function rowOf(permission: Permission): PermissionRow {
  const row = ROLE_MATRIX.find((r) => r.permission === permission);
  if (!row) throw new Error(`unknown permission ${JSON.stringify(permission)}`);
  return row;
}

/** How `role` holds `permission`. */
export function grantOf(role: Role, permission: Permission): Grant {
  return rowOf(permission).grants[role];
}

/**
 * Whether `role` holds `permission` at all: `yes` always; `inScope` only when the question is
 * about a place inside the member's scope (`inScope`, default true: "somewhere in its
 * scope"). For a concrete project/environment use `reviewAccess` in scope.ts.
 */
export function can(role: Role, permission: Permission, where: { inScope: boolean } = { inScope: true }): boolean {
  const grant = grantOf(role, permission);
  return grant === 'yes' || (grant === 'inScope' && where.inScope);
}

/**
 * Team-wide roles may not carry project scopes (admin, billing — and the owner, who is
 * team-wide by construction). Derived from the matrix: a role is scopable exactly when
 * some permission is granted to it `inScope`.
 */
export function isTeamWideRole(role: Role): boolean {
  return !ROLE_MATRIX.some((row) => row.grants[role] === 'inScope');
}

/** Whether the role has any access in project namespaces (view or deploy). Billing has none. */
export function hasProjectAccess(role: Role): boolean {
  return grantOf(role, 'view') !== 'no' || grantOf(role, 'deploy') !== 'no';
}

/**
 * Whether the role may manage the team's own roster objects (Memberships, Invitations)
 * with kubectl: the roles that hold `manageMembers` (owner, admin).
 */
export function mayManageRoster(role: Role): boolean {
  return grantOf(role, 'manageMembers') === 'yes';
}

/** The exact spelling of a Membership/Invitation role, or undefined (owner is not a member role). */
export function parseMemberRole(text: string): MemberRole | undefined {
  return (MEMBER_ROLES as readonly string[]).includes(text) ? (text as MemberRole) : undefined;
}

/** Any role, owner included (for the access review), or undefined. */
export function parseRole(text: string): Role | undefined {
  return (ROLES as readonly string[]).includes(text) ? (text as Role) : undefined;
}

/** A permission name, or undefined. */
export function parsePermission(text: string): Permission | undefined {
  return (PERMISSIONS as readonly string[]).includes(text) ? (text as Permission) : undefined;
}

/** What is wrong with a Membership/Invitation role, in the CRDs' words; undefined if it is fine. */
export function memberRoleProblem(text: string): string | undefined {
  if (text === 'owner') {
    return 'role owner is not allowed: a team has exactly one owner, set in Team spec.owner (edit it to transfer ownership); use role admin instead';
  }
  if (parseMemberRole(text) === undefined) {
    return `role must be one of ${MEMBER_ROLES.join(', ')}, not ${JSON.stringify(text)}`;
  }
  return undefined;
}

const GRANT_CELLS: Readonly<Record<Grant, string>> = { yes: 'Y', inScope: 'Y (in scope)', no: '-' };

/** The matrix as the markdown table of SPEC §2 (the README embeds this text verbatim). */
export function renderRoleMatrixMarkdown(): string {
  const lines = [
    `| permission | ${ROLES.join(' | ')} |`,
    `|${ROLES.map(() => '---|').join('')}---|`,
    ...ROLE_MATRIX.map((row) => `| ${row.description} | ${ROLES.map((role) => GRANT_CELLS[row.grants[role]]).join(' | ')} |`),
  ];
  return `${lines.join('\n')}\n`;
}

// Which ClusterRoles a role becomes with the kubernetes identity backend: src/domain/role-bindings.ts.
