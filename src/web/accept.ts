// The accept page, served on every replica: GET /invite/<token> shows the team, role,
// inviter and expiry; POST accepts. Unknown, used, revoked and expired links all get the
// same answer, so nothing can be probed; the token never reaches a log line, and the page
// keeps it out of Referer headers and caches.
//
// Rate limits are per client address (see client-address.ts for X-Forwarded-For): a tight
// one on failed lookups, which is what guessing links looks like, and a generous one on all
// requests, a flood guard. People opening their own link never meet the first, so a whole
// office behind one NAT or Ingress address is not locked out by one person's typo. Once a
// client is over the failed-lookup limit every link it asks for gets 429 unchecked:
// answering valid ones would turn the limit into an oracle.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Invitation, Membership, Project, Team } from '../api/generated.ts';
import { resources } from '../api/resources.ts';
import { escapeHtml } from '../backends/mail/placeholders.ts';
import { ConditionType, setConditions } from '../domain/conditions.ts';
import { acceptInvitation, isLinkLive, invitationStateOf } from '../domain/invitation-state.ts';
import { hashesEqual, hashToken, isWellFormedToken } from '../domain/tokens.ts';
import type { Informer } from '../runtime/informer.ts';
import { isConflict, type KubeClient } from '../runtime/kube-client.ts';
import { silentLogger } from '../runtime/logger.ts';
import { listen } from '../runtime/listen.ts';
import { writeStatus } from '../runtime/status.ts';
import { AddressSet, clientAddress } from './client-address.ts';
import { accessStatusOf, canICommands, isWellFormedStatusId, scopeInWords, statusScript, StatusIds, type AcceptedRef } from './next-steps.ts';

export interface AcceptRateLimit {
  /** Unknown, used, revoked or expired links per client address per minute (a burst of the same size). */
  failedLookupsPerMinute: number;
  /** All requests per client address per minute: a flood guard, generous enough for a shared address. */
  requestsPerMinute: number;
}

export const defaultAcceptRateLimit: AcceptRateLimit = { failedLookupsPerMinute: 20, requestsPerMinute: 600 };

export interface AcceptPageOptions {
  client: KubeClient;
  /** Read-only views of the caches: the page only looks things up. */
  invitations: Pick<Informer<Invitation>, 'byIndex'> & Partial<Pick<Informer<Invitation>, 'get'>>;
  teams: Pick<Informer<Team>, 'get'>;
  memberships?: Pick<Informer<Membership>, 'get'>;
  /** The team's Projects (namespace, team name), for the scope in words and the can-i lines. */
  projectsOf?: (namespace: string, team: string) => readonly Project[];
  /** The type of an identity backend by name (`kubernetes` gets `kubectl auth can-i` lines). */
  identityTypeOf?: (backend: string) => string | undefined;
  /** Operator default for the welcome button (config acceptPage.welcomeUrl); a Team's spec.invitations.welcomeUrl wins. */
  welcomeUrl?: string;
  /** Status ids handed out after Accept (a seam for tests; default: a fresh store). */
  statusIds?: StatusIds;
  /** Index of `invitations` by link hash. */
  hashIndex: string;
  logger?: Logger;
  now?: () => Date;
  rateLimit?: Partial<AcceptRateLimit>;
  /** CIDRs of the proxies whose X-Forwarded-For is believed (the Ingress controller's Pods). */
  trustedProxies?: readonly string[];
  /** Called after an invitation was accepted (for audit). */
  onAccepted?: (invitation: Invitation) => void;
}

const securityHeaders = {
  'Content-Type': 'text/html; charset=utf-8',
  'Cache-Control': 'no-store',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
};

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:#f4f5f7;color:#1d2330;margin:0;padding:3rem 1rem}
main{max-width:32rem;margin:0 auto;background:#fff;border-radius:12px;padding:2rem 2.25rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.4rem;margin:0 0 1rem}dl{display:grid;grid-template-columns:max-content 1fr;gap:.4rem 1rem;margin:1.25rem 0}
dt{color:#5b6475}dd{margin:0;font-weight:600}blockquote{margin:1rem 0;padding:.75rem 1rem;background:#f4f5f7;border-radius:8px}
button,a.button{display:inline-block;text-decoration:none;background:#2454d6;color:#fff;border:0;border-radius:8px;padding:.75rem 1.5rem;font-size:1rem;cursor:pointer}
pre{background:#1d2330;color:#e8ebf2;padding:.6rem .8rem;border-radius:6px;white-space:pre-wrap;word-break:break-all;font-size:.85rem}#status.live{color:#1a7f37;font-weight:600}#status.bad{color:#b42318;font-weight:600}
button:focus{outline:3px solid #9db5f5}p.small{color:#5b6475;font-size:.9rem}
</style></head><body><main>${body}</main></body></html>`;
}

const invalidPage = page(
  'Invitation link not valid',
  `<h1>This invitation link is not valid</h1>
<p>It may have expired, been used already, or been revoked.</p>
<p>Ask the person who invited you to send a new invitation.</p>`,
);

const jsonHeaders = {
  'Content-Type': 'application/json; charset=utf-8',
  'Cache-Control': 'no-store',
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
};

/** A token bucket per client address: `perMinute` refill, a burst of the same size. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly perMinute: number;
  constructor(perMinute: number) {
    this.perMinute = perMinute;
  }

  private bucket(client: string, now: number): { tokens: number; at: number } {
    const bucket = this.buckets.get(client) ?? { tokens: this.perMinute, at: now };
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + (Math.max(0, now - bucket.at) / 60_000) * this.perMinute);
    bucket.at = now;
    if (!this.buckets.has(client)) {
      if (this.buckets.size >= 10_000) this.prune(); // bounded memory under a flood
      this.buckets.set(client, bucket);
    }
    return bucket;
  }

  /** Whether the client has budget left, without spending any. */
  allows(client: string, now = Date.now()): boolean {
    return this.bucket(client, now).tokens >= 1;
  }

  /** Spends one unit; false (and nothing spent) when there is none left. */
  take(client: string, now = Date.now()): boolean {
    const bucket = this.bucket(client, now);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Whole seconds until the client has one unit again (at least 1). */
  retryAfterSeconds(client: string, now = Date.now()): number {
    const missing = 1 - this.bucket(client, now).tokens;
    return Math.max(1, Math.ceil((missing / this.perMinute) * 60));
  }

  /** Drops clients whose bucket has refilled (they lose nothing); all of them if that is not enough. */
  private prune(): void {
    for (const [client, bucket] of this.buckets) if (bucket.tokens >= this.perMinute - 1) this.buckets.delete(client);
    if (this.buckets.size >= 10_000) this.buckets.clear();
  }
}

export class AcceptPage {
  private readonly options: AcceptPageOptions;
  private readonly logger: Logger;
  private readonly requests: RateLimiter;
  private readonly failedLookups: RateLimiter;
  private readonly trustedProxies: AddressSet;
  private readonly statusIds: StatusIds;
  private server: Server | undefined;
  port = 0;

  /** Throws when a trusted proxy is not a CIDR block. */
  constructor(options: AcceptPageOptions) {
    this.options = options;
    this.logger = (options.logger ?? silentLogger).child({ component: 'accept-page' });
    const limits = { ...defaultAcceptRateLimit, ...options.rateLimit };
    this.requests = new RateLimiter(limits.requestsPerMinute);
    this.failedLookups = new RateLimiter(limits.failedLookupsPerMinute);
    this.trustedProxies = new AddressSet(options.trustedProxies ?? []);
    this.statusIds = options.statusIds ?? new StatusIds();
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /** The live invitation for a token, from the cache; undefined for anything not acceptable. */
  private lookup(token: string): Invitation | undefined {
    if (!isWellFormedToken(token)) return undefined;
    const hash = hashToken(token);
    const candidate = this.options.invitations.byIndex(this.options.hashIndex, hash)[0];
    if (!candidate?.status?.link?.hash || !hashesEqual(candidate.status.link.hash, hash)) return undefined;
    if (candidate.spec.revoked) return undefined;
    if (!isLinkLive(invitationStateOf(candidate.status), this.now())) return undefined;
    return candidate;
  }

  private render(res: ServerResponse, status: number, html: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, { ...securityHeaders, ...headers });
    res.end(html);
  }

  private tooMany(res: ServerResponse, retryAfterSeconds: number): void {
    res.writeHead(429, { ...securityHeaders, 'Retry-After': String(retryAfterSeconds) });
    res.end(
      page(
        'Too many requests',
        `<h1>Too many requests</h1><p>Wait ${retryAfterSeconds === 1 ? 'a second' : `${retryAfterSeconds} seconds`} and try again.</p>`,
      ),
    );
  }

  /** A link that did not work: counted against the client, answered like every other. */
  private invalid(res: ServerResponse, client: string): void {
    this.failedLookups.take(client);
    this.render(res, 404, invalidPage);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const client = clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], this.trustedProxies);
    if (!this.requests.take(client)) {
      this.logger.debug({ client }, 'accept page: request rate limit reached');
      return this.tooMany(res, this.requests.retryAfterSeconds(client));
    }
    const statusMatch = /^\/invite\/status\/([^/?#]+)(?:\?.*)?$/.exec(req.url ?? '');
    if (statusMatch) return this.serveStatus(req, res, client, statusMatch[1]!);
    const match = /^\/invite\/([^/?#]+)\/?(?:\?.*)?$/.exec(req.url ?? '');
    if (!match) {
      this.render(res, 404, page('Not found', '<h1>Not found</h1>'));
      return;
    }
    if ((req.method === 'GET' || req.method === 'HEAD' || req.method === 'POST') && !this.failedLookups.allows(client)) {
      this.logger.debug({ client }, 'accept page: failed-lookup rate limit reached');
      return this.tooMany(res, this.failedLookups.retryAfterSeconds(client));
    }
    let token: string;
    try {
      token = decodeURIComponent(match[1]!);
    } catch {
      return this.invalid(res, client); // malformed %-escape: not a link we minted
    }
    if (req.method === 'GET' || req.method === 'HEAD') {
      const invitation = this.lookup(token);
      if (!invitation) return this.invalid(res, client);
      return this.render(res, 200, this.invitationPage(invitation));
    }
    if (req.method === 'POST') {
      req.resume(); // the form carries nothing we need
      const accepted = await this.accept(token);
      if (!accepted) return this.invalid(res, client);
      return this.acceptedPage(res, accepted);
    }
    res.writeHead(405, { ...securityHeaders, Allow: 'GET, POST' });
    res.end(page('Method not allowed', '<h1>Method not allowed</h1>'));
  }

  private invitationPage(invitation: Invitation): string {
    const team = this.options.teams.get(invitation.metadata.namespace, invitation.spec.team);
    const teamName = team?.spec.displayName ?? invitation.spec.team;
    const inviter = invitation.status?.inviter ?? team?.spec.owner.email ?? 'your team';
    const expires = invitation.status?.expiresAt ? new Date(invitation.status.expiresAt).toUTCString() : 'soon';
    const message = invitation.spec.message ? `<blockquote>${escapeHtml(invitation.spec.message)}</blockquote>` : '';
    return page(
      `Join ${teamName}`,
      `<h1>Join ${escapeHtml(teamName)}</h1>
<p>${escapeHtml(inviter)} invited <strong>${escapeHtml(invitation.spec.email)}</strong>.</p>${message}
<dl><dt>Team</dt><dd>${escapeHtml(teamName)}</dd><dt>Role</dt><dd>${escapeHtml(invitation.spec.role)}</dd>
<dt>Access</dt><dd>${escapeHtml(this.scopeOf(invitation, teamName))}</dd><dt>Invited by</dt><dd>${escapeHtml(inviter)}</dd>
<dt>Expires</dt><dd>${escapeHtml(expires)}</dd></dl>
<form method="post"><button type="submit">Accept invitation</button></form>
<p class="small">If you were not expecting this, ignore it: nothing happens unless you accept.</p>`,
    );
  }

  private projectsOf(invitation: Invitation): readonly Project[] {
    return this.options.projectsOf?.(invitation.metadata.namespace ?? '', invitation.spec.team) ?? [];
  }

  private scopeOf(invitation: Invitation, teamName: string): string {
    return scopeInWords(invitation.spec.role, invitation.spec.projects, this.projectsOf(invitation), teamName);
  }

  /** After Accept: the scope in words, a status line the page keeps current, the welcome button. */
  private acceptedPage(res: ServerResponse, accepted: Invitation): void {
    const team = this.options.teams.get(accepted.metadata.namespace, accepted.spec.team);
    const teamName = team?.spec.displayName ?? accepted.spec.team;
    const ref: AcceptedRef = {
      namespace: accepted.metadata.namespace ?? '',
      invitation: accepted.metadata.name ?? '',
      ...(accepted.status?.membership ? { membership: accepted.status.membership } : {}),
    };
    const id = this.statusIds.issue(ref, this.now().getTime());
    const nonce = randomBytes(16).toString('base64');
    const welcomeUrl = team?.spec.invitations?.welcomeUrl ?? this.options.welcomeUrl;
    // Belt and braces: the CRD and the config already insist on https.
    const welcome =
      welcomeUrl && /^https:\/\//.test(welcomeUrl)
        ? `<p><a class="button" href="${escapeHtml(welcomeUrl)}" rel="noopener noreferrer">Get started with ${escapeHtml(teamName)}</a></p>`
        : '';
    const csp = `${securityHeaders['Content-Security-Policy']}; script-src 'nonce-${nonce}'; connect-src 'self'`;
    this.render(
      res,
      200,
      page(
        `Welcome to ${teamName}`,
        `<h1>Welcome to ${escapeHtml(teamName)}</h1>
<p>You joined as <strong>${escapeHtml(accepted.spec.role)}</strong>.</p>
<dl><dt>Access</dt><dd>${escapeHtml(this.scopeOf(accepted, teamName))}</dd></dl>
<p id="status" role="status" aria-live="polite">Your access is being set up now.</p>
<div id="checks"></div>${welcome}
<script nonce="${nonce}">${statusScript(`/invite/status/${id}`)}</script>`,
      ),
      { 'Content-Security-Policy': csp },
    );
  }

  /** GET /invite/status/<id>: the accepted Membership's phase, as JSON. Unknown and expired ids count as failed lookups. */
  private serveStatus(req: IncomingMessage, res: ServerResponse, client: string, id: string): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...jsonHeaders, Allow: 'GET' });
      res.end(JSON.stringify({ message: 'use GET' }));
      return;
    }
    if (!this.failedLookups.allows(client)) {
      res.writeHead(429, { ...jsonHeaders, 'Retry-After': String(this.failedLookups.retryAfterSeconds(client)) });
      res.end(JSON.stringify({ message: 'too many requests' }));
      return;
    }
    const ref = isWellFormedStatusId(id) ? this.statusIds.lookup(id, this.now().getTime()) : undefined;
    if (!ref) {
      this.failedLookups.take(client);
      res.writeHead(404, jsonHeaders);
      res.end(JSON.stringify({ message: 'unknown or expired status id' }));
      return;
    }
    const invitation = this.options.invitations.get?.(ref.namespace, ref.invitation);
    const owner = invitation?.metadata.ownerReferences?.find((o) => o.kind === 'Membership')?.name;
    const membershipName = ref.membership ?? invitation?.status?.membership ?? owner;
    const membership = membershipName ? this.options.memberships?.get(ref.namespace, membershipName) : undefined;
    const status = accessStatusOf(membership, () => {
      const team = this.options.teams.get(ref.namespace, membership?.spec.team ?? '');
      const backend = membership?.status?.identity?.backend ?? team?.spec.identity?.backend ?? 'default';
      if (!membership || this.options.identityTypeOf?.(backend) !== 'kubernetes') return [];
      const projects = this.options.projectsOf?.(ref.namespace, membership.spec.team) ?? [];
      const subject = membership.status?.identity?.subject ?? membership.spec.email;
      return canICommands(membership.spec.role, membership.spec.projects, projects, ref.namespace, subject);
    });
    res.writeHead(200, jsonHeaders);
    res.end(req.method === 'HEAD' ? undefined : JSON.stringify(status));
  }

  /** Accepts with optimistic locking against the live object: a link works exactly once. */
  private async accept(token: string): Promise<Invitation | undefined> {
    const cached = this.lookup(token);
    if (!cached) return undefined;
    const hash = hashToken(token);
    for (let attempt = 0; attempt < 3; attempt++) {
      const live = await this.options.client.find<Invitation>(resources.invitation, cached.metadata.namespace, cached.metadata.name ?? '');
      if (!live?.status?.link?.hash || !hashesEqual(live.status.link.hash, hash)) return undefined;
      const now = this.now();
      const result = acceptInvitation(live.status, live.spec.revoked, now);
      if (result.outcome !== 'applied' || result.state.phase !== 'Accepted') return undefined;
      const { link: _spent, ...rest } = live.status;
      const status = {
        ...rest,
        phase: 'Accepted' as const,
        acceptedAt: result.state.acceptedAt,
        conditions: setConditions(
          'Invitation',
          live.status.conditions,
          [{ type: ConditionType.Ready, status: 'True', reason: 'Accepted', message: `accepted by ${live.spec.email}` }],
          live.metadata.generation,
          now,
        ),
      };
      try {
        // Compare-and-swap against the live copy: of two clicks on one link, one wins.
        const updated = (await writeStatus(this.options.client, resources.invitation, live, status, { optimistic: true })) ?? live;
        this.logger.info({ invitation: `${live.metadata.namespace}/${live.metadata.name}`, linkId: live.status.link.id }, 'invitation accepted');
        this.options.onAccepted?.(updated);
        return updated;
      } catch (e) {
        if (!isConflict(e)) throw e;
      }
    }
    return undefined;
  }

  async listen(port: number, host = '0.0.0.0'): Promise<number> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        this.logger.error(
          { err: e instanceof Error ? { message: e.message.replace(/\/invite\/[^\s/]+/g, '/invite/[redacted]') } : 'error' },
          'accept page failed',
        );
        if (!res.headersSent) this.render(res, 500, page('Something went wrong', '<h1>Something went wrong</h1><p>Try again in a moment.</p>'));
      });
    });
    this.port = await listen(this.server, port, host);
    return this.port;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
