import { describe, it, expect } from 'vitest';
import { formatTime, parseTime } from '../../../src/domain/time.ts';

describe('formatTime', () => {
  it('writes RFC 3339 UTC with second precision, like metav1.Time', () => {
    expect(formatTime(new Date('2026-03-01T12:34:56.789Z'))).toBe('2026-03-01T12:34:56Z');
    expect(formatTime(new Date('2026-03-01T00:00:00Z'))).toBe('2026-03-01T00:00:00Z');
  });

  it('refuses an invalid date', () => {
    expect(() => formatTime(new Date(Number.NaN))).toThrow(RangeError);
  });
});

describe('parseTime', () => {
  it('reads RFC 3339, undefined for absent or unreadable', () => {
    expect(parseTime('2026-03-01T12:00:00Z')).toBe(Date.UTC(2026, 2, 1, 12));
    expect(parseTime('2026-03-01T14:00:00+02:00')).toBe(Date.UTC(2026, 2, 1, 12));
    expect(parseTime(undefined)).toBeUndefined();
    expect(parseTime('')).toBeUndefined();
    expect(parseTime('yesterday')).toBeUndefined();
  });
});
