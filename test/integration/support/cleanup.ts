// Test files share one control plane, and every operator watches all namespaces: what one
// file leaves behind, the next file's operator reconciles (and mails). Files remove their
// namespaces when they end, while their operator (if any) still runs to finish finalizers.
import { resources } from '../../../src/api/resources.ts';
import type { KubeClient, KubeObject } from '../../../src/runtime/kube-client.ts';

export async function removeNamespaces(client: KubeClient, names: string[], timeoutMs = 120_000): Promise<void> {
  for (const name of names) await client.delete(resources.namespace, undefined, name);
  const deadline = Date.now() + timeoutMs;
  for (const name of names) {
    while (await client.find(resources.namespace, undefined, name)) {
      if (Date.now() > deadline) throw new Error(`namespace ${name} was not gone after ${timeoutMs} ms; left: ${await leftovers(client, name)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** The roster objects still in a namespace, with their finalizers: what holds it up. */
async function leftovers(client: KubeClient, namespace: string): Promise<string> {
  const kinds = [resources.team, resources.membership, resources.invitation, resources.project];
  const lists = await Promise.all(kinds.map((kind) => client.list<KubeObject>(kind, namespace).catch(() => ({ items: [] as KubeObject[] }))));
  const left = lists.flatMap((l, i) => l.items.map((o) => `${kinds[i]!.plural}/${o.metadata.name} [${(o.metadata.finalizers ?? []).join(',')}]`));
  return left.join(' ') || 'no roster objects (other content)';
}
