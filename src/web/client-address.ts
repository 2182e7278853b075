// Who is asking: the accept page's rate limits are per client address. Behind an Ingress
// every request comes from the proxy, so the address a trusted proxy recorded in
// X-Forwarded-For is used instead, and only then: from anyone else the header is a claim
// the caller made up (and could rotate to dodge the limit), so it is ignored.
import { BlockList, isIP } from 'node:net';

/** A parsed CIDR block: `10.0.0.0/8`, `fd00::/8`; a bare address is a /32 or /128. */
export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/** Strips what is not part of the address itself: an IPv6 zone and the IPv4-mapped prefix. */
export function normalizeAddress(address: string): string {
  const trimmed = address.trim().replace(/%.*$/, '');
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(trimmed);
  return (mapped ? mapped[1]! : trimmed).toLowerCase();
}

/** Parses a CIDR (or a single address); throws an Error that says what is wrong. */
export function parseCidr(text: string): Cidr {
  const [rawAddress = '', rawPrefix, extra] = text.trim().split('/');
  const address = normalizeAddress(rawAddress);
  const version = isIP(address);
  if (version === 0 || extra !== undefined) {
    throw new Error(`${JSON.stringify(text)} is not a CIDR block; write an address with a prefix length, e.g. 10.0.0.0/8 or fd00::/8`);
  }
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const max = version === 4 ? 32 : 128;
  if (rawPrefix === undefined) return { address, prefix: max, family };
  if (!/^\d{1,3}$/.test(rawPrefix) || Number(rawPrefix) > max) {
    throw new Error(
      `${JSON.stringify(text)} has prefix length ${JSON.stringify(rawPrefix)}; an ${family === 'ipv4' ? 'IPv4' : 'IPv6'} prefix length is 0 to ${max}`,
    );
  }
  return { address, prefix: Number(rawPrefix), family };
}

/** A set of CIDR blocks to test addresses against (IPv4 and IPv6, IPv4-mapped IPv6 included). */
export class AddressSet {
  private readonly list = new BlockList();
  readonly size: number;

  constructor(cidrs: readonly string[]) {
    for (const cidr of cidrs.map(parseCidr)) this.list.addSubnet(cidr.address, cidr.prefix, cidr.family);
    this.size = cidrs.length;
  }

  has(address: string): boolean {
    const normalized = normalizeAddress(address);
    const version = isIP(normalized);
    if (version === 0 || this.size === 0) return false;
    return this.list.check(normalized, version === 4 ? 'ipv4' : 'ipv6');
  }
}

/**
 * One X-Forwarded-For entry as an address: proxies write bare addresses, but some add a
 * port (`203.0.113.7:4711`, `[2001:db8::1]:4711`). Undefined when it is not an address.
 */
export function forwardedAddress(entry: string): string | undefined {
  let text = entry.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (bracketed) text = bracketed[1]!;
  else if (/^\d{1,3}(?:\.\d{1,3}){3}:\d+$/.test(text)) text = text.slice(0, text.lastIndexOf(':'));
  const address = normalizeAddress(text);
  return isIP(address) ? address : undefined;
}

/**
 * The client's address. The TCP peer, unless the peer is a trusted proxy: then the
 * X-Forwarded-For hops are walked right to left (each proxy appends the address it saw),
 * skipping trusted proxies; the first hop that is not trusted is the client. A malformed
 * hop stops the walk at the last trusted one: beyond it, the header is whatever the
 * caller wrote. When every hop is trusted, the leftmost is the client.
 */
export function clientAddress(peer: string | undefined, forwardedFor: string | readonly string[] | undefined, trusted: AddressSet): string {
  const socket = peer ? normalizeAddress(peer) : 'unknown';
  if (!trusted.has(socket) || forwardedFor === undefined) return socket;
  const hops = (typeof forwardedFor === 'string' ? [forwardedFor] : forwardedFor)
    .join(',')
    .split(',')
    .filter((h) => h.trim() !== '');
  let client = socket;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = forwardedAddress(hops[i]!);
    if (hop === undefined) return client;
    client = hop;
    if (!trusted.has(hop)) return hop;
  }
  return client;
}
