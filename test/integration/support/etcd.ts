// etcd's JSON gateway, for changing storage behind the API server's back in tests.
const b64 = (s: string) => Buffer.from(s).toString('base64');

async function call<T>(etcdUrl: string, path: string, body: unknown): Promise<T> {
  const res = await fetch(`${etcdUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`etcd ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

export async function etcdRevision(etcdUrl: string): Promise<number> {
  const r = await call<{ header: { revision: string } }>(etcdUrl, '/v3/kv/range', { key: b64('/registry/') });
  return Number(r.header.revision);
}

/** Compacts history so that every older resourceVersion is gone (410 for watchers). */
export async function etcdCompact(etcdUrl: string): Promise<void> {
  await call(etcdUrl, '/v3/kv/compaction', { revision: String(await etcdRevision(etcdUrl)), physical: true });
}

export async function etcdDelete(etcdUrl: string, key: string): Promise<number> {
  const r = await call<{ deleted?: string }>(etcdUrl, '/v3/kv/deleterange', { key: b64(key) });
  return Number(r.deleted ?? 0);
}
