import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { formatDuration, parseDuration } from '../../../src/domain/duration.ts';

const H = 3_600_000;
const M = 60_000;

describe('parseDuration', () => {
  it.each<[string, number]>([
    ['168h', 168 * H],
    ['90m', 90 * M],
    ['1h30m', 90 * M],
    ['2.5h', 2.5 * H],
    ['1m', M],
    ['8760h', 8760 * H],
    ['30s', 30_000],
    ['1.5s', 1500],
    ['300ms', 300],
    ['1500us', 1.5],
    ['1500µs', 1.5],
    ['1500μs', 1.5],
    ['2000000ns', 2],
    ['1h1m1s1ms', H + M + 1000 + 1],
    ['.5h', 0.5 * H],
    ['1.h', H],
    ['0', 0],
    ['0s', 0],
    ['+5m', 5 * M],
    ['-5m', -5 * M],
    ['-1.5h', -1.5 * H],
    ['1m1m', 2 * M],
  ])('%s = %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it('truncates fractions below a nanosecond like Go does', () => {
    expect(parseDuration('0.0000000019s')).toBe(0.000001); // 1.9 ns → 1 ns
    expect(parseDuration('0.1s')).toBe(100); // exact, no float residue
    expect(parseDuration('0.7s')).toBe(700);
  });

  it('never returns negative zero', () => {
    expect(Object.is(parseDuration('-0s'), 0)).toBe(true);
    expect(Object.is(parseDuration('-0'), -0)).toBe(false);
  });

  it.each(['', '7d', 'h', '1', '1.5', '.h', '.', '1hh', 'abc', ' 1h', '1h ', '1 h', '--1h', '-', '1H', '2w', '1e3s'])('refuses %j', (text) => {
    expect(() => parseDuration(text)).toThrow(/invalid duration .*use a Go duration such as 168h/);
  });

  it("refuses what overflows Go's int64 nanoseconds", () => {
    expect(() => parseDuration('2562048h')).toThrow(/invalid duration/);
    expect(parseDuration('2562047h')).toBe(2562047 * H);
  });
});

describe('formatDuration', () => {
  it.each<[number, string]>([
    [168 * H, '168h'],
    [90 * M, '1h30m'],
    [2.5 * H, '2h30m'],
    [H + 1000, '1h1s'],
    [61_500, '1m1.5s'],
    [1_050, '1.05s'],
    [250, '250ms'],
    [0, '0s'],
    [0.4, '0s'],
    [-90 * M, '-1h30m'],
  ])('%d ms = %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('refuses non-finite numbers', () => {
    expect(() => formatDuration(Number.NaN)).toThrow(RangeError);
  });

  it("round-trips every whole number of milliseconds in Go's int64-nanosecond range", () => {
    fc.assert(
      fc.property(fc.integer({ min: -9_223_372_036_854, max: 9_223_372_036_854 }), (ms) => {
        expect(parseDuration(formatDuration(ms))).toBe(ms);
      }),
    );
  });

  it('formats what it parses to the same value (h/m/s components)', () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.nat(59), fc.nat(59), (h, m, s) => {
        const text = `${h}h${m}m${s}s`;
        expect(parseDuration(formatDuration(parseDuration(text)))).toBe(parseDuration(text));
      }),
    );
  });
});
