// Denials are answered 200 like allowed reviews, so controller_runtime_webhook_requests_total
// cannot tell them apart: the server reports each denial to onDenied (wired to
// roster_admission_denials_total), over real HTTPS. The latency histogram keeps the answer's
// time below the millisecond: Date.now() read an answer of a few hundred microseconds as 0.
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Invitation } from '../../../src/api/generated.ts';
import { generateCa, issueServingCertificate } from '../../../src/admission/certificates.ts';
import { AdmissionHandler } from '../../../src/admission/handler.ts';
import { AdmissionServer } from '../../../src/admission/server.ts';
import { silentLogger } from '../../../src/runtime/logger.ts';
import { Metrics } from '../../../src/runtime/metrics.ts';
import { ctx, FakeCache, membership, NS, project, team } from './fixtures.ts';

let server: AdmissionServer;
let ca = '';
const denied: string[] = [];
const metrics = new Metrics();

beforeAll(async () => {
  const now = new Date();
  const authority = await generateCa('test-ca', now, 3600_000);
  const serving = await issueServingCertificate(authority, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }, now, 3600_000);
  ca = authority.cert;
  const handler = new AdmissionHandler({
    caches: {
      teams: new FakeCache([team()]),
      memberships: new FakeCache([membership('riley')]),
      invitations: new FakeCache<Invitation>([]),
      projects: new FakeCache([project('shop')]),
    },
    ledger: { reserve: async () => ({ kind: 'reserve', inUse: 1, limit: 3 }), live: async () => [] },
    logger: silentLogger,
    operatorUsername: async () => ctx.operatorUsername,
  });
  server = new AdmissionServer({ handler, logger: silentLogger, metrics, onDenied: (webhook) => denied.push(webhook) });
  await server.listen(0, '127.0.0.1', { ...serving, caBundle: ca });
}, 60_000);

afterAll(async () => {
  await server?.close();
});

function validate(object: unknown): Promise<{ allowed: boolean }> {
  const body = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'u1',
      kind: { group: 'roster.dev', version: 'v1alpha1', kind: 'Membership' },
      operation: 'CREATE',
      namespace: NS,
      userInfo: { username: 'liam@acme.com', groups: [] },
      object,
    },
  });
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: server.port, path: '/validate', method: 'POST', ca, headers: { 'Content-Type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', () => resolve((JSON.parse(text) as { response: { allowed: boolean } }).response));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('admission denial metrics', () => {
  it('reports a denied review to onDenied with its webhook path', async () => {
    const nope = membership('zoe');
    const answer = await validate({ ...nope, spec: { ...nope.spec, team: 'nope' } });
    expect(answer.allowed).toBe(false);
    expect(denied).toEqual(['/validate']);
  });
});

describe('admission latency metric', () => {
  it('records each answer in fractions of a millisecond', async () => {
    const read = async () => {
      const values = (await metrics.webhookLatency.get()).values.filter((v) => v.labels.webhook === '/validate');
      return { sum: values.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0, count: values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0 };
    };
    const before = await read();
    for (let i = 0; i < 20; i++) await validate(membership(`p${i}`));
    const after = await read();
    expect(after.count - before.count).toBe(20);
    const seconds = after.sum - before.sum;
    expect(seconds).toBeGreaterThan(0);
    // Whole milliseconds (the old Date.now() reading) would leave the sum a multiple of 1 ms.
    const micros = Math.round(seconds * 1e6);
    expect(micros % 1000).not.toBe(0);
  });
});
