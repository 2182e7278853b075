// SecureMetricsServer's certificate from a directory (metrics.certSecret in the chart): served
// as mounted, and replaced without a restart when the files change. A request without a token
// is refused before any API call, so no API server is needed here.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { generateCa, issueServingCertificate } from '../../../src/admission/certificates.ts';
import { KubeClient } from '../../../src/runtime/kube-client.ts';
import { Metrics } from '../../../src/runtime/metrics.ts';
import { SecureMetricsServer } from '../../../src/runtime/metrics-server.ts';

const kc = new KubeConfig();
kc.loadFromOptions({
  clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }],
  users: [{ name: 'u' }],
  contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
  currentContext: 'c',
});
const client = new KubeClient(kc);
let server: SecureMetricsServer | undefined;
afterAll(async () => {
  await server?.close();
  client.close();
});

async function keyPair(name: string) {
  const now = new Date();
  const ca = await generateCa(`${name}-ca`, now, 3600_000);
  return await issueServingCertificate(ca, { dnsNames: [name], ipAddresses: ['127.0.0.1'] }, now, 3600_000);
}

/** The subject alternative names of the certificate the server presents. */
function presented(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const cert = socket.getPeerX509Certificate() as X509Certificate;
      socket.destroy();
      resolve(cert.subjectAltName ?? '');
    });
    socket.on('error', reject);
  });
}

describe('SecureMetricsServer with a mounted certificate', () => {
  it('serves the files in certDir and picks up a renewed pair without a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roster-metrics-certs-'));
    const first = await keyPair('first.example');
    writeFileSync(join(dir, 'tls.crt'), first.cert);
    writeFileSync(join(dir, 'tls.key'), first.key);
    server = new SecureMetricsServer({ metrics: new Metrics({ processMetrics: false }), client, certificate: { dir, reloadMs: 50 } });
    const port = await server.listen(0, '127.0.0.1');
    expect(await presented(port)).toContain('DNS:first.example');

    const second = await keyPair('second.example');
    writeFileSync(join(dir, 'tls.key'), second.key);
    writeFileSync(join(dir, 'tls.crt'), second.cert);
    const deadline = Date.now() + 5_000;
    while (!(await presented(port)).includes('DNS:second.example')) {
      if (Date.now() > deadline) throw new Error('the renewed certificate was not picked up');
      await new Promise((r) => setTimeout(r, 50));
    }

    const res = await new Promise<number>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () =>
        socket.end('GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
      );
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString('utf8')));
      socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1])));
      socket.on('error', reject);
    });
    expect(res).toBe(401); // no token: refused before any API call
  });
});
