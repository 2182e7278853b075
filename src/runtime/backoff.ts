/** Per-key failure counting that turns the next retry of a key into a delay. */
export interface RateLimiter {
  /** Counts a failure of `key` and returns how long to wait before retrying it, in ms. */
  when(key: string): number;
  /** Clears the failure count of `key`, e.g. after a successful reconcile. */
  forget(key: string): void;
  /** How many failures have been counted for `key` since it was last forgotten. */
  retries(key: string): number;
}

export interface ExponentialFailureOptions {
  /** Delay after the first failure. */
  baseMs?: number;
  /** Upper bound on any delay. */
  maxMs?: number;
}

/**
 * client-go's ItemExponentialFailureRateLimiter with controller-runtime's defaults: the n-th
 * consecutive failure of a key waits `base * 2^(n-1)`, so 5 ms, 10 ms, 20 ms … capped at 1000 s.
 */
export class ExponentialFailureRateLimiter implements RateLimiter {
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #failures = new Map<string, number>();

  constructor({ baseMs = 5, maxMs = 1_000_000 }: ExponentialFailureOptions = {}) {
    this.#baseMs = baseMs;
    this.#maxMs = maxMs;
  }

  when(key: string): number {
    const exponent = this.#failures.get(key) ?? 0;
    this.#failures.set(key, exponent + 1);
    // 2 ** exponent becomes Infinity long before the count could overflow; min() caps it.
    return Math.min(this.#baseMs * 2 ** exponent, this.#maxMs);
  }

  forget(key: string): void {
    this.#failures.delete(key);
  }

  retries(key: string): number {
    return this.#failures.get(key) ?? 0;
  }
}

export interface JitteredBackoffOptions {
  /** Delay for attempt 0, before jitter. */
  initialMs?: number;
  /** Upper bound on any delay. */
  maxMs?: number;
  factor?: number;
  /** Fraction in [0, 1] by which a delay may be shortened at random. */
  jitter?: number;
}

/**
 * Delay before reconnect attempt `attempt` (0-based): `initial * factor^attempt`, capped, then
 * shortened by up to `jitter` of itself. Defaults follow client-go's reflector (0.8 s → 30 s).
 * Jitter only shortens, so the cap stays a real bound while many watchers that lost the
 * same API server still spread their reconnects instead of arriving together.
 */
export function jitteredBackoff(
  attempt: number,
  { initialMs = 800, maxMs = 30_000, factor = 2, jitter = 0.5 }: JitteredBackoffOptions = {},
  random: () => number = Math.random,
): number {
  const capped = Math.min(initialMs * factor ** Math.max(0, attempt), maxMs);
  return capped * (1 - jitter * random());
}
