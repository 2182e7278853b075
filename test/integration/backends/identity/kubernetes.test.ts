// The kubernetes identity backend against the real API server, cancelled: a reconcile that is
// cancelled (the operator stopping past its deadline) writes no RoleBinding once cancelled.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { resources } from '../../../../src/api/resources.ts';
import { GRANT_LABEL, grantId, KubernetesIdentityBackend, type RoleBinding } from '../../../../src/backends/identity/kubernetes.ts';
import { IdentityBackendError, type Grant, type ScopeTarget } from '../../../../src/backends/identity/types.ts';
import { Informer } from '../../../../src/runtime/informer.ts';
import { KubeClient } from '../../../../src/runtime/kube-client.ts';
import { removeNamespaces } from '../../support/cleanup.ts';

const kubeconfig = inject('kubeconfigPath');
const control = 'k8s-cancel';
const environments = Array.from({ length: 30 }, (_, i) => `k8s-cancel-env-${i}`);
let admin: KubeClient;
let client: KubeClient;
let roleBindings: Informer<RoleBinding>;
let backend: KubernetesIdentityBackend;

const targets: ScopeTarget[] = environments.map((namespace, i) => ({ project: 'shop', environment: `e${i}`, namespace }));
const owner: Grant = { team: { namespace: control, name: 'acme' }, key: 'owner', person: { email: 'ava@acme.com' }, role: 'owner', targets };

async function bindingsOfGrant(): Promise<number> {
  const lists = await Promise.all(
    [control, ...environments].map((ns) =>
      admin.list<RoleBinding>(resources.roleBinding, ns, { labelSelector: `${GRANT_LABEL}=${grantId(owner.team, owner.key)}` }),
    ),
  );
  return lists.reduce((n, l) => n + l.items.length, 0);
}

beforeAll(async () => {
  admin = KubeClient.fromFile(kubeconfig);
  for (const name of [control, ...environments]) await admin.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  client = KubeClient.fromFile(kubeconfig, { fieldManager: 'roster-operator' });
  roleBindings = new Informer<RoleBinding>(client, resources.roleBinding, { labelSelector: 'app.kubernetes.io/managed-by=roster' });
  roleBindings.start();
  await roleBindings.waitForSync();
  backend = new KubernetesIdentityBackend({
    name: 'default',
    client,
    roleBindings,
    clusterRoles: { admin: 'admin', developer: 'edit', observer: 'view' },
    assignment: () => ({ kind: 'assigned' }),
  });
});

afterAll(async () => {
  await roleBindings?.stop();
  client?.close();
  await removeNamespaces(admin, [control, ...environments]);
  admin?.close();
});

describe('kubernetes backend, cancelled', () => {
  it('with the signal aborted before it starts, sends nothing', async () => {
    const writes = client.counter.writes();
    const error = await backend.ensure(owner, { signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdentityBackendError);
    expect(error).toMatchObject({ reason: 'Cancelled', retryable: true });
    expect(client.counter.writes()).toBe(writes);
    expect(await bindingsOfGrant()).toBe(0);
  });

  it('cancelled halfway through 31 bindings, stops writing at once; the next ensure finishes the job', async () => {
    const abort = new AbortController();
    const patchesBefore = client.counter.get('patch');
    const call = backend.ensure(owner, { signal: abort.signal }).catch((e: unknown) => e);
    while (client.counter.get('patch') - patchesBefore < 2) await new Promise((r) => setTimeout(r, 1));
    abort.abort(new Error('controller team stopped'));
    const error = await call;
    expect(error).toMatchObject({ reason: 'Cancelled', retryable: true });
    const sent = client.counter.get('patch') - patchesBefore;
    expect(sent).toBeLessThan(31);
    await new Promise((r) => setTimeout(r, 300));
    expect(client.counter.get('patch') - patchesBefore).toBe(sent); // nothing went out after the cancel
    expect(await bindingsOfGrant()).toBeLessThanOrEqual(sent);
    // Level-triggered: the next reconcile (here, or on the next leader) completes it.
    await new Promise((r) => setTimeout(r, 500)); // the cache catches up with what was written
    await backend.ensure(owner);
    expect(await bindingsOfGrant()).toBe(31);
  });
});
