// KubeClient's cancellation over real HTTP (a loopback server standing in for the API
// server): an aborted signal sends nothing, an abort cuts a request in flight, and one
// signal shared by many requests (a reconcile's) does not collect a listener per request.
// Also its response bodies, written in awkward pieces.
import { getEventListeners } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeClient, serverHost, withRequestPriority, type KubeObject } from '../../../src/runtime/kube-client.ts';
import { Metrics } from '../../../src/runtime/metrics.ts';
import { TokenBucket } from '../../../src/runtime/rate-limit.ts';
import { ManualClock } from './manual-clock.ts';

const roleBindings = { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', namespaced: true, kind: 'RoleBinding' };

let server: Server | undefined;
let client: KubeClient | undefined;
afterEach(async () => {
  client?.close();
  server?.closeAllConnections();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ client: KubeClient; requests: string[] }> {
  const requests: string[] = [];
  server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'local', server: `http://127.0.0.1:${(server.address() as { port: number }).port}`, skipTLSVerify: true }], // plain HTTP needs it
    users: [{ name: 'local' }],
    contexts: [{ name: 'local', cluster: 'local', user: 'local' }],
    currentContext: 'local',
  });
  client = new KubeClient(kc);
  return { client, requests };
}

const ok = (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end('{"kind":"Status"}');
};

describe('KubeClient cancellation', () => {
  it('sends nothing when the signal has already aborted', async () => {
    const { client, requests } = await serve(ok);
    const signal = AbortSignal.abort();
    await expect(client.delete(roleBindings, 'acme', 'rb', { signal })).rejects.toThrow('aborted');
    await expect(
      client.apply(roleBindings, { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'rb', namespace: 'acme' } }, undefined, {
        signal,
      }),
    ).rejects.toThrow('aborted');
    expect(requests).toEqual([]);
    expect(client.counter.writes()).toBe(0);
  });

  it('cuts a request in flight when the signal aborts', async () => {
    const { client, requests } = await serve(() => undefined); // never answers
    const abort = new AbortController();
    const pending = client.delete(roleBindings, 'acme', 'rb', { signal: abort.signal });
    while (requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    const started = performance.now();
    abort.abort();
    await expect(pending).rejects.toThrow('aborted');
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('leaves no abort listener behind on a signal shared by many requests', async () => {
    const { client } = await serve(ok);
    const shared = new AbortController().signal;
    for (let i = 0; i < 25; i++) await client.request('get', 'GET', '/api/v1/namespaces', { signal: shared });
    await new Promise((r) => setTimeout(r, 10)); // 'close' follows the response's end
    expect(getEventListeners(shared, 'abort')).toHaveLength(0);
  });
});

describe('KubeClient request metrics (client-go names and labels)', () => {
  const namespaces = { group: '', version: 'v1', plural: 'namespaces', namespaced: false };

  async function instrumented(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ client: KubeClient; metrics: Metrics; host: string }> {
    const { client: plain } = await serve(handler);
    const metrics = new Metrics({ processMetrics: false });
    const server = plain.kubeConfig.getCurrentCluster()!.server;
    client = new KubeClient(plain.kubeConfig, { metrics: metrics.clientSink() });
    plain.close();
    return { client, metrics, host: server.replace('http://', '') };
  }

  it('counts every request by code, HTTP method and host, and times it', async () => {
    const { client, metrics, host } = await instrumented((req, res) => {
      if (req.url?.includes('/missing')) {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        res.end('{"kind":"Status","reason":"NotFound","message":"not found"}');
        return;
      }
      ok(req, res);
    });
    await client.list(namespaces);
    await client.list(namespaces);
    await expect(client.get(namespaces, undefined, 'missing')).rejects.toThrow(/404/);
    await client.apply(roleBindings, { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'rb', namespace: 'acme' } });
    await client.delete(roleBindings, 'acme', 'rb');

    const text = await metrics.text();
    expect(text).toContain(`rest_client_requests_total{code="200",method="GET",host="${host}"} 2`);
    expect(text).toContain(`rest_client_requests_total{code="404",method="GET",host="${host}"} 1`);
    expect(text).toContain(`rest_client_requests_total{code="200",method="PATCH",host="${host}"} 1`);
    expect(text).toContain(`rest_client_requests_total{code="200",method="DELETE",host="${host}"} 1`);
    // client-go's verb label holds the HTTP method too; failed requests are timed as well.
    expect(text).toContain(`rest_client_request_duration_seconds_count{verb="GET",host="${host}"} 3`);
    expect(text).toContain(`rest_client_request_duration_seconds_bucket{le="0.005",verb="PATCH",host="${host}"}`);
    expect(text).toContain(`rest_client_request_duration_seconds_bucket{le="60",verb="DELETE",host="${host}"} 1`);
  });

  it('waits for the rate limiter, status writes first, and times the wait', async () => {
    const { client: plain, requests } = await serve(ok);
    const metrics = new Metrics({ processMetrics: false });
    const clock = new ManualClock();
    client = new KubeClient(plain.kubeConfig, { metrics: metrics.clientSink(), rateLimiter: new TokenBucket({ qps: 1, burst: 1, clock }) });
    plain.close();
    const host = serverHost(client.kubeConfig.getCurrentCluster()!.server);
    await client.list(namespaces); // the burst
    const list = client.list(roleBindings, 'acme');
    const status = client.patch(roleBindings, 'acme', 'rb', 'merge', {}, 'status');
    const admission = withRequestPriority('high', () => client!.get(roleBindings, 'acme', 'in-a-hurry'));
    await new Promise((r) => setImmediate(r));
    expect(requests).toHaveLength(1);
    clock.advance(1000);
    await status;
    clock.advance(1000);
    await admission;
    clock.advance(1000);
    await list;
    expect(requests.map((r) => r.split('?')[0])).toEqual([
      'GET /api/v1/namespaces',
      'PATCH /apis/rbac.authorization.k8s.io/v1/namespaces/acme/rolebindings/rb/status',
      'GET /apis/rbac.authorization.k8s.io/v1/namespaces/acme/rolebindings/in-a-hurry',
      'GET /apis/rbac.authorization.k8s.io/v1/namespaces/acme/rolebindings',
    ]);
    const text = await metrics.text();
    expect(text).toContain(`rest_client_rate_limiter_duration_seconds_count{verb="GET",host="${host}"} 3`);
    expect(text).toContain(`rest_client_rate_limiter_duration_seconds_sum{verb="GET",host="${host}"} 5`);
    expect(text).toContain(`rest_client_rate_limiter_duration_seconds_sum{verb="PATCH",host="${host}"} 1`);
  });

  it('tells its listeners of accepted conditional writes only', async () => {
    const { client } = await serve((req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ metadata: { name: 'rb', namespace: 'acme', resourceVersion: '8' } }));
    });
    const seen: string[] = [];
    const stop = client.onAcceptedWrite((w) => seen.push(`${w.ref.plural} ${w.baseResourceVersion} -> ${w.object.metadata.resourceVersion}`));
    await client.apply(roleBindings, { metadata: { name: 'rb', namespace: 'acme' } }); // unconditional
    await client.apply(roleBindings, { metadata: { name: 'rb', namespace: 'acme', resourceVersion: '7' } }, 'status');
    await client.patch(roleBindings, 'acme', 'rb', 'merge', { metadata: { resourceVersion: '7' } });
    await client.patch(roleBindings, 'acme', 'rb', 'json', [{ op: 'test', path: '/metadata/resourceVersion', value: '7' }]);
    await client.replace(roleBindings, { metadata: { name: 'rb', namespace: 'acme', resourceVersion: '7' } });
    stop();
    await client.replace(roleBindings, { metadata: { name: 'rb', namespace: 'acme', resourceVersion: '7' } });
    expect(seen).toEqual(['rolebindings 7 -> 8', 'rolebindings 7 -> 8', 'rolebindings 7 -> 8']);
  });

  it('counts a watch once when it opens and keeps its lifetime out of the latency histogram', async () => {
    const { client, metrics, host } = await instrumented((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n');
      setTimeout(() => res.end(), 50);
    });
    const events: string[] = [];
    await client.watch(namespaces, undefined, {}, (e) => events.push(e.type));
    expect(events).toEqual(['ADDED']);
    const text = await metrics.text();
    expect(text).toContain(`rest_client_requests_total{code="200",method="GET",host="${host}"} 1`);
    expect(text).not.toContain('rest_client_request_duration_seconds_count{');
  });

  it('counts a request that never got an answer as <error>, never with the error text', async () => {
    const { client, metrics, host } = await instrumented((req) => req.socket.destroy());
    await expect(client.list(namespaces)).rejects.toThrow();
    const text = await metrics.text();
    expect(text).toContain(`rest_client_requests_total{code="<error>",method="GET",host="${host}"} 1`);
    expect(text).toContain(`rest_client_request_duration_seconds_count{verb="GET",host="${host}"} 1`);
    expect(text).not.toMatch(/socket hang up|ECONNRESET/);
  });

  it('names the host as the kubeconfig writes it, port included (client-go keeps an explicit :443)', () => {
    expect(serverHost('https://10.96.0.1:443')).toBe('10.96.0.1:443');
    expect(serverHost('https://kubernetes.default.svc')).toBe('kubernetes.default.svc');
    expect(serverHost('https://user:pw@api.example.com:6443/prefix')).toBe('api.example.com:6443');
    expect(serverHost('https://[::1]:6443')).toBe('[::1]:6443');
  });
});

const namespacesRef = { group: '', version: 'v1', plural: 'namespaces', namespaced: false, kind: 'Namespace' };

/** Writes `text` as UTF-8 in two pieces, split inside the bytes of its first "ë". */
function writeSplit(res: ServerResponse, text: string, then: () => void): void {
  const bytes = Buffer.from(text, 'utf8');
  const cut = bytes.indexOf(Buffer.from('ë', 'utf8')) + 1;
  res.write(bytes.subarray(0, cut));
  setTimeout(() => {
    res.write(bytes.subarray(cut));
    then();
  }, 20);
}

const object = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'zoe', annotations: { 'roster.dev/display-name': 'Zoë Brontë' } } };

describe('KubeClient response bodies', () => {
  it('keeps a character whose bytes arrive in two chunks', async () => {
    const { client: c } = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      writeSplit(res, JSON.stringify(object), () => res.end());
    });
    const got = await c.get<KubeObject>(namespacesRef, undefined, 'zoe');
    expect(got.metadata.annotations?.['roster.dev/display-name']).toBe('Zoë Brontë');
  });

  it('keeps it in a watch stream too, and splits events on newlines across chunks', async () => {
    const { client: c } = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const lines = `${JSON.stringify({ type: 'ADDED', object })}\n${JSON.stringify({ type: 'MODIFIED', object })}\n`;
      writeSplit(res, lines, () => res.end());
    });
    const names: string[] = [];
    await c.watch<KubeObject>(namespacesRef, undefined, {}, (e) => names.push(`${e.type} ${e.object.metadata.annotations?.['roster.dev/display-name']}`));
    expect(names).toEqual(['ADDED Zoë Brontë', 'MODIFIED Zoë Brontë']);
  });

  it('fails on a body cut short instead of reading half of it', async () => {
    const { client: c } = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '1000' });
      res.write('{"apiVersion":"v1","kind":"Namespace"');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    await expect(c.get(namespacesRef, undefined, 'zoe')).rejects.toThrow();
  });
});
