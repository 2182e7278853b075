// Which address the accept page rate-limits: CIDR parsing, X-Forwarded-For walking, and
// that a header from anyone but a trusted proxy changes nothing.
import { describe, expect, it } from 'vitest';
import { AddressSet, clientAddress, forwardedAddress, normalizeAddress, parseCidr } from '../../../src/web/client-address.ts';

describe('parseCidr', () => {
  it.each([
    ['10.0.0.0/8', { address: '10.0.0.0', prefix: 8, family: 'ipv4' }],
    [' 192.168.1.7 ', { address: '192.168.1.7', prefix: 32, family: 'ipv4' }],
    ['0.0.0.0/0', { address: '0.0.0.0', prefix: 0, family: 'ipv4' }],
    ['fd00::/8', { address: 'fd00::', prefix: 8, family: 'ipv6' }],
    ['2001:DB8::1', { address: '2001:db8::1', prefix: 128, family: 'ipv6' }],
    ['::ffff:10.1.2.3/32', { address: '10.1.2.3', prefix: 32, family: 'ipv4' }],
  ])('%s', (text, expected) => {
    expect(parseCidr(text)).toEqual(expected);
  });

  it.each([
    ['10.0.0.0/33', /prefix length "33".*0 to 32/],
    ['fd00::/129', /0 to 128/],
    ['10.0.0.0/-1', /prefix length/],
    ['10.0.0.0/8/8', /not a CIDR block/],
    ['10.0.0/8', /not a CIDR block.*10\.0\.0\.0\/8/],
    ['ingress-nginx', /not a CIDR block/],
    ['', /not a CIDR block/],
  ])('refuses %s, saying what to write', (text, message) => {
    expect(() => parseCidr(text)).toThrow(message);
  });
});

describe('AddressSet', () => {
  const set = new AddressSet(['10.0.0.0/8', '192.168.1.7', 'fd00::/8']);
  it.each([
    ['10.255.0.1', true],
    ['11.0.0.1', false],
    ['192.168.1.7', true],
    ['192.168.1.8', false],
    ['::ffff:10.0.0.5', true], // an IPv4 peer on a dual-stack socket
    ['fd12:3456::1', true],
    ['fe80::1', false],
    ['fd00::1%eth0', true],
    ['not-an-address', false],
    ['', false],
  ])('%s → %s', (address, expected) => {
    expect(set.has(address)).toBe(expected);
  });

  it('an empty set trusts nobody', () => {
    expect(new AddressSet([]).has('127.0.0.1')).toBe(false);
  });
});

describe('forwardedAddress', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    [' 203.0.113.7:4711 ', '203.0.113.7'],
    ['[2001:db8::1]:4711', '2001:db8::1'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['2001:db8::1', '2001:db8::1'],
    ['::ffff:198.51.100.2', '198.51.100.2'],
    ['unknown', undefined],
    ['203.0.113.7; rm -rf', undefined],
    ['', undefined],
  ])('%j → %j', (entry, expected) => {
    expect(forwardedAddress(entry)).toBe(expected);
  });
});

describe('clientAddress', () => {
  const proxies = new AddressSet(['10.0.0.0/8', 'fd00::/8']);

  it('is the TCP peer when no proxy is trusted, whatever the header says', () => {
    expect(clientAddress('198.51.100.9', '203.0.113.7', new AddressSet([]))).toBe('198.51.100.9');
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', () => {
    expect(clientAddress('198.51.100.9', '203.0.113.7, 10.0.0.2', proxies)).toBe('198.51.100.9');
    expect(clientAddress('::ffff:198.51.100.9', '203.0.113.7', proxies)).toBe('198.51.100.9');
  });

  it('takes the hop the trusted proxy appended', () => {
    expect(clientAddress('10.0.0.2', '203.0.113.7', proxies)).toBe('203.0.113.7');
    expect(clientAddress('::ffff:10.0.0.2', '203.0.113.7', proxies)).toBe('203.0.113.7');
  });

  it('walks right to left past trusted hops, and stops at the first untrusted one', () => {
    // The caller wrote "1.1.1.1"; the Ingress saw 203.0.113.7; a second proxy layer saw the Ingress.
    expect(clientAddress('10.0.0.3', '1.1.1.1, 203.0.113.7, 10.0.0.2', proxies)).toBe('203.0.113.7');
  });

  it('reads every X-Forwarded-For header, in order', () => {
    expect(clientAddress('10.0.0.3', ['1.1.1.1', '203.0.113.7, 10.0.0.2'], proxies)).toBe('203.0.113.7');
  });

  it('handles IPv6 hops and IPv6 proxies', () => {
    expect(clientAddress('fd00::2', '2001:db8::7, fd00::1', proxies)).toBe('2001:db8::7');
    expect(clientAddress('fd00::2', '[2001:db8::7]:5000', proxies)).toBe('2001:db8::7');
  });

  it('uses the leftmost hop when every hop is a trusted proxy', () => {
    expect(clientAddress('10.0.0.3', '10.0.0.9, 10.0.0.2', proxies)).toBe('10.0.0.9');
  });

  it('stops at the last trusted hop when a hop is not an address (beyond it the caller wrote the header)', () => {
    expect(clientAddress('10.0.0.3', 'garbage, 10.0.0.2', proxies)).toBe('10.0.0.2');
    expect(clientAddress('10.0.0.3', 'garbage', proxies)).toBe('10.0.0.3');
  });

  it('is the trusted peer itself when the header is missing or empty', () => {
    expect(clientAddress('10.0.0.3', undefined, proxies)).toBe('10.0.0.3');
    expect(clientAddress('10.0.0.3', ' , ', proxies)).toBe('10.0.0.3');
  });

  it('normalizes IPv4-mapped addresses and zones', () => {
    expect(normalizeAddress('::FFFF:127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeAddress('fe80::1%lo0')).toBe('fe80::1');
    expect(clientAddress(undefined, '203.0.113.7', proxies)).toBe('unknown');
  });
});
