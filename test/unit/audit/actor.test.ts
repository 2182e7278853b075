// The actor annotations are the API server's word, not the manifest's: created-by and
// changed-by come from the admission request, and deleted-by only from the operator's own
// deletion hook, so nobody can blame someone else for a deletion in advance.
import { describe, expect, it } from 'vitest';
import { actorAnnotations, CHANGED_BY, CREATED_BY, DELETED_BY, RESENT_BY } from '../../../src/audit/actor.ts';

const object = (annotations: Record<string, string>, spec: unknown = { role: 'developer' }) => ({ metadata: { annotations }, spec });

describe('actorAnnotations', () => {
  it('stamps the requester on create and drops forged actor annotations', () => {
    const wanted = actorAnnotations('CREATE', object({ [CREATED_BY]: 'someone-else', [DELETED_BY]: 'victim@acme.com' }), undefined, 'riley@acme.com');
    expect(wanted).toEqual({ [CREATED_BY]: 'riley@acme.com', [CHANGED_BY]: undefined, [DELETED_BY]: undefined, [RESENT_BY]: undefined });
  });

  it('keeps created-by and names the changer only when the spec changed', () => {
    const old = object({ [CREATED_BY]: 'ada@acme.com' });
    expect(actorAnnotations('UPDATE', object({ [CREATED_BY]: 'forged' }, { role: 'admin' }), old, 'noah@acme.com')).toMatchObject({
      [CREATED_BY]: 'ada@acme.com',
      [CHANGED_BY]: 'noah@acme.com',
    });
    expect(actorAnnotations('UPDATE', object({}), old, 'noah@acme.com')).toMatchObject({ [CHANGED_BY]: undefined });
  });

  it('lets only the operator write deleted-by', () => {
    const old = object({ [CREATED_BY]: 'ada@acme.com' });
    const forged = object({ [CREATED_BY]: 'ada@acme.com', [DELETED_BY]: 'victim@acme.com' });
    expect(actorAnnotations('UPDATE', forged, old, 'mallory@acme.com')[DELETED_BY]).toBeUndefined();
    expect(actorAnnotations('UPDATE', forged, old, 'system:serviceaccount:roster-system:roster', true)[DELETED_BY]).toBe('victim@acme.com');
    // Once recorded, a later update by someone else cannot change it.
    const recorded = object({ [DELETED_BY]: 'noah@acme.com' });
    expect(actorAnnotations('UPDATE', object({ [DELETED_BY]: 'victim@acme.com' }), recorded, 'mallory@acme.com')[DELETED_BY]).toBe('noah@acme.com');
  });

  it('credits a resend to whoever changed the resend annotation, and keeps it otherwise', () => {
    const old = object({ [CREATED_BY]: 'ada@acme.com', 'roster.dev/resend': '1' });
    const resent = object({ [CREATED_BY]: 'ada@acme.com', 'roster.dev/resend': '2', [RESENT_BY]: 'forged' });
    expect(actorAnnotations('UPDATE', resent, old, 'noah@acme.com')[RESENT_BY]).toBe('noah@acme.com');
    const oldResent = object({ 'roster.dev/resend': '2', [RESENT_BY]: 'noah@acme.com' });
    expect(actorAnnotations('UPDATE', object({ 'roster.dev/resend': '2', [RESENT_BY]: 'mallory' }), oldResent, 'mallory@acme.com')[RESENT_BY]).toBe(
      'noah@acme.com',
    );
  });
});
