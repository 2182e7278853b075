// The VERB of `kubectl roster can-i`: a permission of the role matrix by its name, or a
// friendly word for it. Matching ignores case, '-', '_' and spaces, so `manage-members`,
// `manage_members` and `manageMembers` are the same.
import { PERMISSIONS, ROLE_MATRIX, type Permission } from '../domain/roles.ts';

/** Friendly words per permission (the permission's own name always works too). */
export const PERMISSION_ALIASES: Readonly<Record<Permission, readonly string[]>> = {
  view: ['get', 'list', 'read', 'watch', 'observe', 'audit', 'sites', 'environments', 'observability'],
  deploy: ['edit', 'update', 'write', 'manage-environments', 'plugins', 'themes', 'domains', 'snapshots'],
  manageProjects: ['projects', 'manage-sites', 'register-sites', 'create-project', 'delete-project'],
  manageMembers: ['members', 'invite', 'invitations', 'manage-invitations'],
  securitySettings: ['security', 'settings', 'integrations', 'api-keys'],
  billing: ['invoices', 'payments', 'payment-methods', 'manage-billing'],
  changePlan: ['plan', 'seats', 'change-seats', 'transfer', 'transfer-ownership', 'delete-team'],
};

const squash = (text: string): string => text.toLowerCase().replace(/[-_\s]/g, '');

const LOOKUP: ReadonlyMap<string, Permission> = (() => {
  const map = new Map<string, Permission>();
  for (const permission of PERMISSIONS) {
    map.set(squash(permission), permission);
    for (const alias of PERMISSION_ALIASES[permission]) map.set(squash(alias), permission);
  }
  return map;
})();

/** The permission a VERB names, or undefined. */
export function permissionForVerb(verb: string): Permission | undefined {
  return LOOKUP.get(squash(verb));
}

/** Lines for can-i's help: each permission, what it covers, and its aliases. */
export function describeVerbs(): string[] {
  const width = Math.max(...PERMISSIONS.map((p) => p.length));
  return ROLE_MATRIX.map((row) => `  ${row.permission.padEnd(width)}   ${row.description} (also: ${PERMISSION_ALIASES[row.permission].join(', ')})`);
}
