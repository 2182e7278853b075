// AccessKeys (SPEC §9): gather the facts (access-key/gather.ts), decide with the pure planner
// (access-key/plan.ts), and carry the decision out here: the key's ServiceAccount, the
// owner's right to mint its tokens, and its RoleBindings. Never a token Secret.
import type { AccessKey } from '../api/generated.ts';
import { resources } from '../api/resources.ts';
import { recordChange } from '../audit/record.ts';
import { createdBy, deletedBy } from '../audit/actor.ts';
import type { ReconcileResult } from '../runtime/controller.ts';
import { isNotFound } from '../runtime/kube-client.ts';
import { splitKey, type OperatorContext } from './context.ts';
import { gatherAccessKey } from './access-key/gather.ts';
import { KEY_FINALIZER, planAccessKey, type KeyChange, type KeyObjectKind, type KeyWrite } from './access-key/plan.ts';
import { addFinalizer, removeFinalizer, writeStatusWon } from './objects.ts';

const REF: Record<KeyObjectKind, (typeof resources)[keyof typeof resources]> = {
  ServiceAccount: resources.serviceAccount,
  Role: resources.role,
  RoleBinding: resources.roleBinding,
};

export async function reconcileAccessKey(ctx: OperatorContext, name: string): Promise<ReconcileResult> {
  const [namespace, keyName] = splitKey(name);
  const key = ctx.caches.accessKeys.get(namespace, keyName);
  if (!key) return { kind: 'done' };
  const plan = planAccessKey(gatherAccessKey(ctx, key));
  switch (plan.kind) {
    case 'addFinalizer':
      await addFinalizer(ctx.client, resources.accessKey, key, KEY_FINALIZER);
      return { kind: 'done' }; // the update brings us back
    case 'finalize':
      await applyWrites(ctx, plan.writes);
      await removeFinalizer(ctx.client, resources.accessKey, key, KEY_FINALIZER);
      record(ctx, key, plan.change, deletedBy(key));
      return { kind: 'done' };
    case 'sync': {
      await applyWrites(ctx, plan.writes);
      // A lost write: a newer copy is on its way, and its reconcile reports the change.
      const won = await writeStatusWon(ctx.client, resources.accessKey, key, plan.status, true);
      // The first activation is the creator's doing; later changes follow the owner's Membership.
      if (plan.change && won) record(ctx, key, plan.change, key.status?.phase === undefined ? createdBy(key) : undefined);
      return plan.requeueMs === undefined ? { kind: 'done' } : { kind: 'requeueAfter', ms: plan.requeueMs };
    }
  }
}

/** Writes in plan order; a delete of something already gone is fine. */
async function applyWrites(ctx: OperatorContext, writes: readonly KeyWrite[]): Promise<void> {
  for (const w of writes) {
    if (w.kind === 'apply') {
      const ref = REF[w.object.kind];
      if (w.replace) await deleteQuietly(ctx, ref, w.object.metadata.namespace ?? '', w.object.metadata.name ?? '');
      await ctx.client.apply(ref, w.object, undefined, { signal: ctx.signal });
    } else {
      await deleteQuietly(ctx, REF[w.object], w.namespace, w.name);
    }
  }
}

async function deleteQuietly(ctx: OperatorContext, ref: (typeof resources)[keyof typeof resources], namespace: string, name: string): Promise<void> {
  try {
    await ctx.client.delete(ref, namespace, name, { signal: ctx.signal });
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}

/** An Event on the key and an audit line, both naming the key and its owner. */
function record(ctx: OperatorContext, key: AccessKey, change: KeyChange, actor: string | undefined): void {
  recordChange(ctx, {
    regarding: key,
    type: change.type,
    reason: change.reason,
    action: change.reason === 'Revoked' ? 'Revoke' : 'Reconcile',
    note: change.note,
    ...(actor ? { actor } : {}),
    audit: {
      action: change.reason.toLowerCase(),
      entity: 'key',
      team: key.spec.team,
      namespace: key.metadata.namespace ?? '',
      ...(key.spec.owner ? { subject: key.spec.owner } : {}),
      detail: `${key.metadata.name}: ${change.note}`,
      ...(key.status?.effective?.role ? { roleBefore: key.status.effective.role } : {}),
    },
  });
}
