// The accept page's rate limits over real HTTP: a person opening their own link is never
// limited, guessing links is, and X-Forwarded-For counts only from a trusted proxy. The
// page reads the caches through two lookups; here they are backed by plain maps (nothing
// below talks to an API server: every request that would, fails before it gets there).
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Invitation, Team } from '../../../src/api/generated.ts';
import { parseConfig, ConfigError } from '../../../src/config.ts';
import { mintToken, type MintedToken } from '../../../src/domain/tokens.ts';
import type { KubeClient } from '../../../src/runtime/kube-client.ts';
import { AcceptPage, type AcceptPageOptions } from '../../../src/web/accept.ts';

const now = new Date('2026-03-01T12:00:00Z');
const hashIndex = 'byLinkHash';

function invitation(token: MintedToken): Invitation {
  return {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Invitation',
    metadata: { name: 'jordan', namespace: 'acme', generation: 1 },
    spec: { team: 'acme', email: 'jordan@acme.com', role: 'developer' },
    status: {
      phase: 'Pending',
      sentAt: '2026-03-01T11:00:00Z',
      expiresAt: '2026-03-08T11:00:00Z',
      deliveries: 1,
      link: { id: token.linkId, hash: token.hash },
    },
  };
}

const team: Team = {
  apiVersion: 'roster.dev/v1alpha1',
  kind: 'Team',
  metadata: { name: 'acme', namespace: 'acme' },
  spec: { displayName: 'Acme', owner: { email: 'ava@acme.com' }, seats: 5 },
} as Team;

const pages: AcceptPage[] = [];
afterEach(async () => {
  await Promise.all(pages.splice(0).map((p) => p.close()));
});

interface Started {
  url: (token: string) => string;
  logs: string[];
}

async function start(valid: MintedToken[], options: Partial<AcceptPageOptions> = {}): Promise<Started> {
  const byHash = new Map(valid.map((t) => [t.hash, invitation(t)]));
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const page = new AcceptPage({
    // POST to a valid link would write through this; the tests below never get that far.
    client: {} as KubeClient,
    invitations: { byIndex: (index, value) => (index === hashIndex && byHash.has(value) ? [byHash.get(value)!] : []) },
    teams: { get: (namespace, name) => (namespace === 'acme' && name === 'acme' ? team : undefined) },
    hashIndex,
    now: () => now,
    logger: pino({ level: 'trace' }, sink),
    ...options,
  });
  pages.push(page);
  const port = await page.listen(0, '127.0.0.1');
  return { url: (token) => `http://127.0.0.1:${port}/invite/${token}`, logs };
}

const get = (url: string, forwardedFor?: string) => fetch(url, { headers: forwardedFor ? { 'X-Forwarded-For': forwardedFor } : {} });

describe('the accept page rate limits', () => {
  it('never limits a person opening a valid link: 40 views in a row all render', async () => {
    const token = mintToken();
    const { url } = await start([token], { rateLimit: { failedLookupsPerMinute: 5 } });
    for (let i = 0; i < 40; i++) {
      const res = await get(url(token.token));
      expect(res.status, `view ${i + 1}`).toBe(200);
      expect(await res.text()).toContain('Join Acme');
    }
  });

  it('answers failed lookups over the limit with 429 and Retry-After, and then refuses valid links too (no oracle)', async () => {
    const token = mintToken();
    const { url } = await start([token], { rateLimit: { failedLookupsPerMinute: 5 } });
    for (let i = 0; i < 5; i++) {
      const res = await get(url(mintToken().token));
      expect(res.status).toBe(404);
      expect(await res.text()).toContain('not valid');
    }
    const limited = await get(url(mintToken().token));
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get('retry-after'));
    // One failed lookup comes back every 60/5 = 12 s.
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(12);
    expect(limited.headers.get('cache-control')).toBe('no-store');
    expect(await limited.text()).toContain('Too many requests');
    // A hit must look like a miss now, or guessing could go on at full speed.
    expect((await get(url(token.token))).status).toBe(429);
    expect((await fetch(url(token.token), { method: 'POST' })).status).toBe(429);
  });

  it('counts malformed links and failed accepts as failed lookups', async () => {
    const { url } = await start([], { rateLimit: { failedLookupsPerMinute: 2 } });
    expect((await get(url('%E0%A4%A'))).status).toBe(404); // not a 500
    expect((await fetch(url(mintToken().token), { method: 'POST' })).status).toBe(404);
    expect((await get(url(mintToken().token))).status).toBe(429);
  });

  it('still has a flood guard on all requests', async () => {
    const token = mintToken();
    const { url } = await start([token], { rateLimit: { requestsPerMinute: 3 } });
    for (let i = 0; i < 3; i++) expect((await get(url(token.token))).status).toBe(200);
    const limited = await get(url(token.token));
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy: rotating it does not dodge the limit', async () => {
    const { url } = await start([], { rateLimit: { failedLookupsPerMinute: 3 }, trustedProxies: ['10.0.0.0/8'] });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await get(url(mintToken().token), `203.0.113.${i + 1}`)).status);
    expect(statuses).toEqual([404, 404, 404, 429, 429, 429]);
  });

  it('behind a trusted proxy, counts each forwarded client on its own', async () => {
    const token = mintToken();
    const { url } = await start([token], { rateLimit: { failedLookupsPerMinute: 3 }, trustedProxies: ['127.0.0.0/8', '::1/128'] });
    // One person behind the Ingress guesses until limited...
    for (let i = 0; i < 3; i++) expect((await get(url(mintToken().token), '203.0.113.7')).status).toBe(404);
    expect((await get(url(mintToken().token), '203.0.113.7')).status).toBe(429);
    // ...a spoofed hop to the left of what the proxy appended changes nothing for them...
    expect((await get(url(mintToken().token), '198.51.100.1, 203.0.113.7')).status).toBe(429);
    // ...and someone else behind the same Ingress opens their link, and can still mistype one.
    expect((await get(url(token.token), '198.51.100.2')).status).toBe(200);
    expect((await get(url(mintToken().token), '198.51.100.2')).status).toBe(404);
    expect((await get(url(token.token), '2001:db8::2')).status).toBe(200);
  });

  it('never logs a token, valid or not', async () => {
    const token = mintToken();
    const guesses = [mintToken(), mintToken(), mintToken()];
    const { url, logs } = await start([token], { rateLimit: { failedLookupsPerMinute: 2 } });
    await get(url(token.token));
    for (const guess of guesses) await get(url(guess.token), '203.0.113.7');
    await fetch(url(guesses[0]!.token), { method: 'POST' });
    expect(logs.join('').length).toBeGreaterThan(0); // the limit was logged, so logs were written
    for (const t of [token, ...guesses]) {
      expect(logs.join('')).not.toContain(t.token);
      expect(logs.join('')).not.toContain(t.hash);
    }
  });
});

describe('the accept page server', () => {
  it('rejects listen() when its port is taken (the manager then stops what started) instead of crashing the process', async () => {
    const { url } = await start([]);
    const port = Number(new URL(url('x')).port);
    const second = new AcceptPage({ client: {} as KubeClient, invitations: { byIndex: () => [] }, teams: { get: () => undefined }, hashIndex });
    pages.push(second);
    await expect(second.listen(port, '127.0.0.1')).rejects.toThrow(/EADDRINUSE/);
  });
});

describe('the accept page settings in the operator config', () => {
  const base = { publicUrl: 'https://roster.example.com', mail: { from: 'Roster <roster@acme.com>' }, identityBackends: { default: { type: 'kubernetes' } } };

  it('defaults to no trusted proxies, 20 failed lookups and 600 requests a minute', () => {
    const config = parseConfig(base);
    expect(config.server.trustedProxies).toEqual([]);
    expect(config.server.acceptRateLimit).toEqual({ failedLookupsPerMinute: 20, requestsPerMinute: 600 });
  });

  it('takes IPv4 and IPv6 CIDRs and refuses anything else, naming the key and the fix', () => {
    expect(parseConfig({ ...base, server: { trustedProxies: ['10.0.0.0/8', 'fd00::/8'] } }).server.trustedProxies).toEqual(['10.0.0.0/8', 'fd00::/8']);
    expect(() => parseConfig({ ...base, server: { trustedProxies: ['ingress-nginx'] } })).toThrow(ConfigError);
    expect(() => parseConfig({ ...base, server: { trustedProxies: ['10.0.0.0/40'] } })).toThrow(/server\.trustedProxies: "10\.0\.0\.0\/40".*0 to 32/);
    expect(() => parseConfig({ ...base, server: { acceptRateLimit: { failedLookupsPerMinute: 0 } } })).toThrow(/failedLookupsPerMinute/);
  });
});
