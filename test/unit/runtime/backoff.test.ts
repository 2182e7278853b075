import { describe, it, expect } from 'vitest';
import { ExponentialFailureRateLimiter, jitteredBackoff } from '../../../src/runtime/backoff.ts';

describe('ExponentialFailureRateLimiter', () => {
  it('doubles from 5 ms per failure and caps at 1000 s', () => {
    const limiter = new ExponentialFailureRateLimiter();
    const delays = Array.from({ length: 20 }, () => limiter.when('ns/a'));
    expect(delays.slice(0, 5)).toEqual([5, 10, 20, 40, 80]);
    expect(delays[17]).toBe(5 * 2 ** 17); // 655.36 s, the last one under the cap
    expect(delays[18]).toBe(1_000_000);
    expect(delays[19]).toBe(1_000_000);
    expect(limiter.retries('ns/a')).toBe(20);
  });

  it('stays at the cap after very many failures', () => {
    const limiter = new ExponentialFailureRateLimiter();
    for (let i = 0; i < 5000; i++) limiter.when('ns/a');
    expect(limiter.when('ns/a')).toBe(1_000_000);
  });

  it('counts keys separately and resets on forget', () => {
    const limiter = new ExponentialFailureRateLimiter();
    limiter.when('ns/a');
    limiter.when('ns/a');
    expect(limiter.when('ns/b')).toBe(5);
    expect(limiter.retries('ns/a')).toBe(2);

    limiter.forget('ns/a');
    expect(limiter.retries('ns/a')).toBe(0);
    expect(limiter.when('ns/a')).toBe(5);
    expect(limiter.retries('ns/b')).toBe(1);
  });

  it('takes other bounds', () => {
    const limiter = new ExponentialFailureRateLimiter({ baseMs: 100, maxMs: 350 });
    expect([limiter.when('k'), limiter.when('k'), limiter.when('k')]).toEqual([100, 200, 350]);
  });
});

describe('jitteredBackoff', () => {
  const noJitter = (): number => 0;

  it('grows from 0.8 s and caps at 30 s', () => {
    const delays = Array.from({ length: 8 }, (_, attempt) => jitteredBackoff(attempt, {}, noJitter));
    expect(delays).toEqual([800, 1600, 3200, 6400, 12_800, 25_600, 30_000, 30_000]);
    expect(jitteredBackoff(10_000, {}, noJitter)).toBe(30_000);
  });

  it('shortens by at most the jitter fraction and never exceeds the cap', () => {
    expect(jitteredBackoff(0, {}, () => 0.5)).toBe(600);
    expect(jitteredBackoff(0, {}, () => 0.999)).toBeGreaterThan(400);
    expect(jitteredBackoff(20, { jitter: 0.2 }, () => 0.5)).toBe(27_000);
    for (let attempt = 0; attempt < 50; attempt++) {
      const d = jitteredBackoff(attempt);
      expect(d).toBeGreaterThan(0);
      expect(d).toBeLessThanOrEqual(30_000);
    }
  });

  it('treats a negative attempt as the first', () => {
    expect(jitteredBackoff(-3, { initialMs: 100, factor: 3 }, noJitter)).toBe(100);
    expect(jitteredBackoff(2, { initialMs: 100, factor: 3 }, noJitter)).toBe(900);
  });
});
