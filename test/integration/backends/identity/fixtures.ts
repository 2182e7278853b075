// The team, scope targets and grants the three backend test files share.
import type { Grant, ScopeTarget } from '../../../../src/backends/identity/types.ts';
import type { MemberRole } from '../../../../src/domain/roles.ts';

export const team = { namespace: 'acme', name: 'acme' };
export const staging: ScopeTarget = { project: 'shop', environment: 'staging', namespace: 'shop-staging' };
export const production: ScopeTarget = { project: 'shop', environment: 'production', namespace: 'shop-prod' };
export const blog: ScopeTarget = { project: 'blog', environment: 'production', namespace: 'blog-prod' };

/** The grant a Membership named after the local part of `email` would give. */
export function grant(email: string, role: MemberRole, targets: ScopeTarget[], name?: string): Grant {
  return { team, key: `member:${email.split('@')[0]}`, person: { email, ...(name ? { name } : {}) }, role, targets };
}
