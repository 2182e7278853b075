// The one status writer (src/runtime/status.ts) against the real API server: it writes only
// a changed status, a field it stops setting is gone, `optimistic` makes a write from a stale
// copy fail with 409 and change nothing (the invitation controller's at-most-once mail stands
// on that) and makes `desired` the whole status even where an older writer (a PUT, a merge
// patch) still co-owns a field; without it such a field stays.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Invitation, InvitationStatus } from '../../../src/api/generated.ts';
import { apiVersion, resources } from '../../../src/api/resources.ts';
import { isConflict, KubeClient } from '../../../src/runtime/kube-client.ts';
import { writeStatus } from '../../../src/runtime/status.ts';

const kubeconfig = inject('kubeconfigPath');
const ns = 'status-writer-tests';
let client: KubeClient;

beforeAll(async () => {
  client = KubeClient.fromFile(kubeconfig);
  await client.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
});
afterAll(async () => {
  await client.delete(resources.namespace, undefined, ns);
  client.close();
});

let counter = 0;
async function invitation(): Promise<Invitation> {
  return await client.create<Invitation>(resources.invitation, {
    apiVersion,
    kind: 'Invitation',
    metadata: { name: `status-${++counter}`, namespace: ns },
    spec: { team: 'acme', email: `p${counter}@acme.com`, role: 'observer' },
  });
}

const live = (i: Invitation) => client.get<Invitation>(resources.invitation, ns, i.metadata.name ?? '');
const link = { id: 'l1', hash: 'h1' };

describe('writeStatus', () => {
  it('writes a changed status and nothing for an unchanged one', async () => {
    const created = await invitation();
    const written = await writeStatus(client, resources.invitation, created, { phase: 'Pending', link });
    expect(written?.status).toEqual({ phase: 'Pending', link });
    expect(await writeStatus(client, resources.invitation, written!, { phase: 'Pending', link })).toBeUndefined();
    expect((await live(created)).metadata.resourceVersion).toBe(written?.metadata.resourceVersion);
  });

  it('removes a field the desired status leaves out', async () => {
    const created = await invitation();
    const first = await writeStatus(client, resources.invitation, created, { phase: 'Pending', link });
    const second = await writeStatus(client, resources.invitation, first!, { phase: 'Revoked' });
    expect(second?.status).toEqual({ phase: 'Revoked' });
    expect((await live(created)).status).toEqual({ phase: 'Revoked' });
  });

  it('optimistic: removes a field left out even when an earlier PUT or merge patch set it (another owner in managedFields)', async () => {
    const created = await invitation();
    // Status as a PUT (the accept page, or this operator before one status writer) left it.
    const put = await client.replace<Invitation>(
      resources.invitation,
      { ...created, status: { phase: 'Pending', link, sentAt: '2026-01-01T00:00:00Z', delivery: { linkId: 'l1', state: 'Sending', possibleDuplicate: true } } },
      'status',
    );
    const merged = await client.patch<Invitation>(resources.invitation, ns, created.metadata.name ?? '', 'merge', { status: { membership: 'm-1' } }, 'status');
    expect(merged.status).toMatchObject({ link, membership: 'm-1' });
    const { link: _gone, membership: _alsoGone, ...rest } = merged.status as InvitationStatus;
    const written = await writeStatus(
      client,
      resources.invitation,
      merged,
      { ...rest, phase: 'Revoked', delivery: { linkId: 'l1', state: 'Sent' } },
      { optimistic: true },
    );
    const expected = { phase: 'Revoked', sentAt: '2026-01-01T00:00:00Z', delivery: { linkId: 'l1', state: 'Sent' } };
    expect(written?.status).toEqual(expected);
    expect((await live(created)).status).toEqual(expected);
    expect(put.status?.link).toEqual(link);
  });

  it('optimistic: a write from a stale copy fails with 409 and changes nothing', async () => {
    const created = await invitation();
    const stale = (await writeStatus(client, resources.invitation, created, { phase: 'Pending' }))!;
    await writeStatus(client, resources.invitation, stale, { phase: 'Pending', link }, { optimistic: true });
    const error = await writeStatus(client, resources.invitation, stale, { phase: 'Revoked' }, { optimistic: true }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isConflict(error)).toBe(true);
    expect((await live(created)).status).toEqual({ phase: 'Pending', link });
  });

  it('without optimistic, a field another writer set a moment ago stays (a stale copy cannot know of it)', async () => {
    const created = await invitation();
    const mine = (await writeStatus(client, resources.invitation, created, { phase: 'Pending' }))!;
    await client.patch<Invitation>(resources.invitation, ns, created.metadata.name ?? '', 'merge', { status: { membership: 'm-1' } }, 'status');
    await writeStatus(client, resources.invitation, mine, { phase: 'Accepted' });
    expect((await live(created)).status).toEqual({ phase: 'Accepted', membership: 'm-1' });
  });

  it('without optimistic, a write from a stale copy wins', async () => {
    const created = await invitation();
    const stale = (await writeStatus(client, resources.invitation, created, { phase: 'Pending' }))!;
    await writeStatus(client, resources.invitation, stale, { phase: 'Pending', link });
    await writeStatus(client, resources.invitation, stale, { phase: 'Revoked' });
    expect((await live(created)).status).toEqual({ phase: 'Revoked' });
  });
});
