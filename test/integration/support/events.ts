// Events are written in the background (the recorder never makes a reconcile wait on them,
// src/runtime/events.ts), so a test that has seen the effect of a reconcile has not yet
// necessarily seen its Event: it waits for it.
import { expect } from 'vitest';
import { resources } from '../../../src/api/resources.ts';
import type { KubeEvent } from '../../../src/runtime/events.ts';
import type { KubeClient } from '../../../src/runtime/kube-client.ts';
import { eventually } from './eventually.ts';

/** Waits until `namespace` holds an Event with `reason` about the object named `regarding`, and returns it. */
export async function eventRecorded(client: KubeClient, namespace: string, reason: string, regarding: string, timeoutMs = 20_000): Promise<KubeEvent> {
  return await eventually(async () => {
    const events = await client.list<KubeEvent>(resources.event, namespace);
    const found = events.items.find((e) => e.reason === reason && e.regarding?.name === regarding);
    expect(
      found,
      `an Event ${reason} about ${regarding} in ${namespace}; have: ${events.items.map((e) => `${e.reason}/${e.regarding?.name}`).join(', ')}`,
    ).toBeDefined();
    return found!;
  }, timeoutMs);
}
