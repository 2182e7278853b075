// Plain objects for the admission unit tests.
import type { Invitation, Membership, Project, Team } from '../../../src/api/generated.ts';
import type { CacheReader } from '../../../src/admission/handler.ts';
import type { AdmissionView, Change } from '../../../src/admission/validators.ts';
import { teamEmailKey } from '../../../src/api/indexes.ts';
import { normalizeEmail } from '../../../src/domain/email.ts';

export const NS = 'acme';
export const NOW = new Date('2026-06-01T12:00:00Z');
let counter = 0;
const uid = () => `uid-${++counter}`;
const created = (minutesAgo = 60) => new Date(NOW.getTime() - minutesAgo * 60_000).toISOString().replace(/\.\d+Z$/, 'Z');

export function team(overrides: Partial<Team['spec']> = {}, status?: Team['status']): Team {
  return {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Team',
    metadata: { name: 'acme', namespace: NS, uid: 'team-uid', creationTimestamp: created(600) },
    spec: { owner: { email: 'liam@acme.com', name: 'Liam Hillier' }, seats: 10, ...overrides },
    ...(status ? { status } : {}),
  };
}

export function membership(name: string, spec: Partial<Membership['spec']> = {}, status?: Membership['status']): Membership {
  return {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Membership',
    metadata: { name, namespace: NS, uid: uid(), creationTimestamp: created() },
    spec: { team: 'acme', email: `${name}@acme.com`, role: 'developer', ...spec },
    ...(status ? { status } : {}),
  };
}

export function invitation(
  name: string,
  spec: Partial<Invitation['spec']> = {},
  metadata: Partial<Invitation['metadata']> = {},
  status?: Invitation['status'],
): Invitation {
  return {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Invitation',
    metadata: { name, namespace: NS, uid: uid(), creationTimestamp: created(), ...metadata },
    spec: { team: 'acme', email: `${name}@acme.com`, role: 'observer', ...spec },
    ...(status ? { status } : {}),
  };
}

export function project(name: string, environments: string[] = ['production', 'staging']): Project {
  const envs = environments.map((e) => ({ name: e, namespace: `${name}-${e}` }));
  return {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Project',
    metadata: { name, namespace: NS, uid: uid() },
    spec: { team: 'acme', environments: envs as Project['spec']['environments'] },
  };
}

export function view(parts: Partial<AdmissionView> = {}): AdmissionView {
  return { team: team(), memberships: [], invitations: [], projects: [project('shop')], reservations: [], ...parts };
}

export function create<T>(object: T, username = 'riley@acme.com'): Change<T> {
  return { operation: 'CREATE', object, user: { username, groups: [] }, requestUid: `req-${++counter}` };
}

export function update<T>(oldObject: T, object: T, username = 'riley@acme.com'): Change<T> {
  return { operation: 'UPDATE', object, oldObject, user: { username, groups: [] }, requestUid: `req-${++counter}` };
}

export const ctx = { now: NOW, operatorUsername: 'system:serviceaccount:roster-system:roster' };

/** A cache over a fixed list, indexed by team the way the operator's informers are. */
export class FakeCache<T extends { metadata: { name?: string; namespace?: string }; spec?: unknown }> implements CacheReader<T> {
  private readonly items: T[];
  constructor(items: T[]) {
    this.items = items;
  }
  get(namespace: string | undefined, name: string) {
    return this.items.find((i) => i.metadata.namespace === namespace && i.metadata.name === name);
  }
  byIndex(index: string, value: string) {
    const spec = (i: T) => i.spec as { team?: string; email?: string };
    if (index === 'team-email')
      return this.items.filter((i) => teamEmailKey(i.metadata.namespace, spec(i).team ?? '', normalizeEmail(spec(i).email ?? '')) === value);
    return this.items.filter((i) => `${i.metadata.namespace}/${spec(i).team}` === value);
  }
  hasSynced() {
    return true;
  }
  async waitForSync() {}
}
