// A loopback HTTP front for a test server: forwards every request to the server behind it,
// records what went through, and lets a test fail single exchanges (a 5xx, a truncated list,
// a slow answer) or take the front down (the port refuses connections) while the server
// itself, and its data, stays up.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { freePort } from '../../../controlplane/harness.ts';

export interface HttpExchange {
  readonly method: string;
  /** Path and query, e.g. /v2/Groups?filter=… */
  readonly url: string;
  readonly requestBody: string;
  /** The If-Match precondition the client sent, if any. */
  readonly ifMatch?: string;
}

export interface HttpReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Returns a reply to send instead of the server's, or undefined to pass the exchange through. */
export type HttpFault = (exchange: HttpExchange, upstream: () => Promise<HttpReply>) => Promise<HttpReply | undefined> | HttpReply | undefined;

export interface HttpFront {
  readonly port: number;
  readonly url: string;
  /** Every request that reached the front, in order. */
  readonly requests: HttpExchange[];
  setFault(fault: HttpFault | undefined): void;
  /** Closes the port (connections refused) until resume(). */
  halt(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<void>;
}

const FORWARDED_REQUEST_HEADERS = ['authorization', 'content-type', 'accept', 'if-match', 'if-none-match'];
const FORWARDED_RESPONSE_HEADERS = ['content-type', 'etag', 'location'];

export async function startHttpFront(upstreamPort: number): Promise<HttpFront> {
  const requests: HttpExchange[] = [];
  let fault: HttpFault | undefined;
  const port = await freePort();

  const forward = async (exchange: HttpExchange, headers: IncomingMessage['headers']): Promise<HttpReply> => {
    const pass: Record<string, string> = {};
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const v = headers[name];
      if (typeof v === 'string') pass[name] = v;
    }
    const res = await fetch(`http://127.0.0.1:${upstreamPort}${exchange.url}`, {
      method: exchange.method,
      headers: pass,
      redirect: 'manual',
      ...(exchange.requestBody ? { body: exchange.requestBody } : {}),
    });
    const out: Record<string, string> = {};
    for (const name of FORWARDED_RESPONSE_HEADERS) {
      const v = res.headers.get(name);
      if (v) out[name] = v.replace(`127.0.0.1:${upstreamPort}`, `127.0.0.1:${port}`);
    }
    return { status: res.status, headers: out, body: await res.text() };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const ifMatch = req.headers['if-match'];
    const exchange: HttpExchange = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      requestBody: Buffer.concat(chunks).toString('utf8'),
      ...(typeof ifMatch === 'string' ? { ifMatch } : {}),
    };
    requests.push(exchange);
    try {
      const upstream = () => forward(exchange, req.headers);
      const reply = (fault ? await fault(exchange, upstream) : undefined) ?? (await upstream());
      res.writeHead(reply.status, reply.headers);
      res.end(reply.body);
    } catch (e) {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(String(e));
    }
  };

  let server: Server | undefined;
  const listen = async () => {
    if (server) return;
    const s = createServer((req, res) => void handle(req, res));
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    server = s;
  };
  const close = async () => {
    const s = server;
    server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    setFault(f) {
      fault = f;
    },
    halt: close,
    resume: listen,
    stop: close,
  };
}

/** A fault that answers matching requests with a status (once, or every time), passing the rest. */
export function failMatching(match: (e: HttpExchange) => boolean, status: number, body = '{"detail":"injected by the test"}', times = Infinity): HttpFault {
  let left = times;
  return (exchange) => {
    if (left <= 0 || !match(exchange)) return undefined;
    left -= 1;
    return { status, headers: { 'content-type': 'application/json' }, body };
  };
}

/** Whether an exchange wrote anything (anything but GET/HEAD). */
export function isWrite(e: HttpExchange): boolean {
  return e.method !== 'GET' && e.method !== 'HEAD';
}
