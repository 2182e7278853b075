import { describe, expect, it } from 'vitest';
import { PERMISSION_ALIASES, permissionForVerb } from '../../../src/cli/verbs.ts';
import { PERMISSIONS } from '../../../src/domain/roles.ts';

describe('can-i verbs', () => {
  it('accepts every permission of the matrix by name, in any case and separator style', () => {
    for (const permission of PERMISSIONS) {
      expect(permissionForVerb(permission)).toBe(permission);
      expect(permissionForVerb(permission.toUpperCase())).toBe(permission);
      const kebab = permission.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
      expect(permissionForVerb(kebab), kebab).toBe(permission);
      expect(permissionForVerb(kebab.replace(/-/g, '_'))).toBe(permission);
    }
  });

  it('maps friendly words to the permission they mean', () => {
    expect(permissionForVerb('get')).toBe('view');
    expect(permissionForVerb('edit')).toBe('deploy');
    expect(permissionForVerb('invite')).toBe('manageMembers');
    expect(permissionForVerb('api-keys')).toBe('securitySettings');
    expect(permissionForVerb('invoices')).toBe('billing');
    expect(permissionForVerb('transfer-ownership')).toBe('changePlan');
    expect(permissionForVerb('delete-team')).toBe('changePlan');
    expect(permissionForVerb('fly')).toBeUndefined();
    expect(permissionForVerb('')).toBeUndefined();
  });

  it('never lets one word mean two permissions', () => {
    const seen = new Map<string, string>();
    for (const permission of PERMISSIONS) {
      for (const word of [permission, ...PERMISSION_ALIASES[permission]]) {
        const key = word.toLowerCase().replace(/[-_\s]/g, '');
        expect(seen.get(key) ?? permission, `${word} is claimed by ${seen.get(key)} and ${permission}`).toBe(permission);
        seen.set(key, permission);
      }
    }
  });
});
