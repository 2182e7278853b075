import { describe, expect, it } from 'vitest';
import type { Membership } from '../../../src/api/generated.ts';
import { TEAM_COALESCE_MS } from '../../../src/controllers/watches.ts';
import type { Informer, InformerEvent } from '../../../src/runtime/informer.ts';
import { watch } from '../../../src/runtime/manager.ts';
import { WorkQueue } from '../../../src/runtime/workqueue.ts';
import { ManualClock } from '../runtime/manual-clock.ts';

/** Just enough of an informer to emit events by hand. */
function fakeInformer() {
  const handlers: Array<(e: InformerEvent<Membership>) => void> = [];
  const informer = { on: (h: (e: InformerEvent<Membership>) => void) => (handlers.push(h), () => {}) } as unknown as Informer<Membership>;
  const emit = (name: string) => {
    const object = {
      apiVersion: 'roster.dev/v1alpha1',
      kind: 'Membership',
      metadata: { name, namespace: 'acme' },
      spec: { team: 'acme', email: `${name}@acme.com`, role: 'observer' },
    } as Membership;
    for (const h of handlers) h({ type: 'added', key: `acme/${name}`, object });
  };
  return { informer, emit };
}

describe('a delayed watch', () => {
  it('folds a burst of member events into one reconcile of the Team, after the window', () => {
    const clock = new ManualClock();
    const queue = new WorkQueue({ name: 'team', clock });
    const { informer, emit } = fakeInformer();
    const toTeam = (e: InformerEvent<Membership>) => [`${e.object.metadata.namespace}/${e.object.spec.team}`];
    watch(informer, toTeam, { delayMs: TEAM_COALESCE_MS }).subscribe((keys, delayMs) => keys.forEach((k) => queue.addAfter(k, delayMs ?? 0)));
    for (let i = 0; i < 10; i++) {
      emit(`m${i}`);
      clock.advance(50);
    }
    expect(queue.len()).toBe(0); // nothing yet: the window runs from the first event
    clock.advance(TEAM_COALESCE_MS);
    expect(queue.len()).toBe(1);
  });

  it('without a delay, queues at once', () => {
    const clock = new ManualClock();
    const queue = new WorkQueue({ name: 'membership', clock });
    const { informer, emit } = fakeInformer();
    watch(informer, (e) => [e.key]).subscribe((keys, delayMs) => keys.forEach((k) => queue.addAfter(k, delayMs ?? 0)));
    emit('m0');
    expect(queue.len()).toBe(1);
  });
});
