// TeamMailTimes: the team's mail times come from the cache once, and again only after one of
// its invitations records a mail (or one with mails comes or goes).
import { describe, expect, it } from 'vitest';
import type { Invitation } from '../../../src/api/generated.ts';
import { TeamMailTimes } from '../../../src/controllers/team-mails.ts';
import { mailTimes } from '../../../src/domain/invitation-state.ts';
import type { InformerEvent } from '../../../src/runtime/informer.ts';

function invitation(name: string, recentMails?: string[], team = 'acme'): Invitation {
  return {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Invitation',
    metadata: { name, namespace: 'acme', uid: `uid-${name}` },
    spec: { team, email: `${name}@x.io`, role: 'developer' },
    ...(recentMails ? { status: { recentMails } } : {}),
  } as Invitation;
}

class Source {
  readonly store = new Map<string, Invitation>();
  walks = 0;
  private handler: ((e: InformerEvent<Invitation>) => void) | undefined;
  on(handler: (e: InformerEvent<Invitation>) => void) {
    this.handler = handler;
    return () => (this.handler = undefined);
  }
  byIndex(_index: string, value: string) {
    this.walks++;
    return [...this.store.values()].filter((i) => `${i.metadata.namespace}/${i.spec.team}` === value);
  }
  put(i: Invitation) {
    const key = `acme/${i.metadata.name}`;
    const old = this.store.get(key);
    this.store.set(key, i);
    this.handler?.(old ? { type: 'updated', key, object: i, old } : { type: 'added', key, object: i });
  }
  remove(name: string) {
    const key = `acme/${name}`;
    const old = this.store.get(key)!;
    this.store.delete(key);
    this.handler?.({ type: 'deleted', key, object: old });
  }
}

describe('TeamMailTimes', () => {
  it('walks a team once, and again only when its mails change', () => {
    const source = new Source();
    source.put(invitation('a', ['2026-06-01T02:00:00Z']));
    source.put(invitation('b', ['2026-06-01T01:00:00Z', '2026-06-01T03:00:00Z']));
    source.put(invitation('c', ['2026-06-01T05:00:00Z'], 'other'));
    const mails = new TeamMailTimes(source);
    const all = () => mailTimes([...source.store.values()].filter((i) => i.spec.team === 'acme').map((i) => i.status?.recentMails));

    expect(mails.times('acme/acme')).toEqual(all());
    expect(mails.times('acme/acme')).toHaveLength(3);
    expect(source.walks).toBe(1);
    // A status change that records no mail, a new invitation without mails, another team's mail: still cached.
    source.put({ ...invitation('a', ['2026-06-01T02:00:00Z']), metadata: { ...invitation('a').metadata, labels: { x: 'y' } } });
    source.put(invitation('d'));
    source.put(invitation('c', ['2026-06-01T05:00:00Z', '2026-06-01T06:00:00Z'], 'other'));
    expect(mails.times('acme/acme')).toEqual(all());
    expect(source.walks).toBe(1);
    // A mail recorded, an invitation with mails deleted, one added with mails: walked again each time.
    for (const change of [
      () => source.put(invitation('d', ['2026-06-01T04:00:00Z'])),
      () => source.remove('b'),
      () => source.put(invitation('e', ['2026-06-01T00:30:00Z'])),
    ]) {
      const walks = source.walks;
      change();
      expect(mails.times('acme/acme')).toEqual(all());
      expect(source.walks).toBe(walks + 1);
    }
    mails.close();
  });
});
