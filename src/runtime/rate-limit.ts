// A client-side token bucket in front of every API request, as client-go's (flowcontrol
// NewTokenBucketRateLimiter): `qps` tokens a second, at most `burst` saved up, one per request.
// Unlike client-go's it has two lanes: when requests queue, a waiting high-priority request
// (status writes, Lease renewals, an admission review's requests: see requestPriority and
// withRequestPriority in kube-client.ts) takes the next token before any waiting low-priority
// one (lists, resync reads, spec writes), so a relist storm cannot delay a leader's renewal,
// a webhook answer or a status a person is waiting for. Within a lane, first come first served.
//
// The clock is the work queue's, injected, so the tests drive time by hand.
import { systemClock, type Clock } from './workqueue.ts';

export type Priority = 'high' | 'low';

export interface TokenBucketOptions {
  /** Tokens per second; 0 = no limit (every acquire passes at once). */
  qps: number;
  /** Bucket size: requests that may go out at once after a quiet spell (at least 1). */
  burst: number;
  clock?: Clock;
}

interface Waiter {
  resolve(waitedMs: number): void;
  reject(error: Error): void;
  since: number;
  /** Set when the waiter left the queue (served or aborted). */
  done: boolean;
}

export class TokenBucket {
  readonly qps: number;
  readonly burst: number;
  private readonly clock: Clock;
  private tokens: number;
  private last: number;
  private readonly lanes: Record<Priority, Waiter[]> = { high: [], low: [] };
  private cancelTimer: (() => void) | undefined;

  constructor(options: TokenBucketOptions) {
    if (!(options.qps >= 0)) throw new Error(`rate limiter qps must be >= 0, got ${options.qps}`);
    this.qps = options.qps;
    this.burst = Math.max(1, Math.floor(options.burst));
    this.clock = options.clock ?? systemClock;
    this.tokens = this.burst;
    this.last = this.clock.now();
  }

  /** Requests waiting for a token, per lane (for tests and debugging). */
  waiting(): Record<Priority, number> {
    return { high: this.lanes.high.length, low: this.lanes.low.length };
  }

  /**
   * Resolves with the milliseconds waited once the request may go out; rejects if the
   * signal aborts first (the token is then not spent).
   */
  acquire(priority: Priority = 'low', signal?: AbortSignal): Promise<number> {
    if (this.qps === 0) return Promise.resolve(0);
    if (signal?.aborted) return Promise.reject(new Error('aborted'));
    this.refill();
    // Nobody queued ahead (of this lane or a higher one): take a token if there is one.
    const ahead = priority === 'high' ? this.lanes.high.length : this.lanes.high.length + this.lanes.low.length;
    if (ahead === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      return Promise.resolve(0);
    }
    return new Promise<number>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, since: this.clock.now(), done: false };
      this.lanes[priority].push(waiter);
      if (signal) {
        const onAbort = () => {
          if (waiter.done) return;
          waiter.done = true;
          const lane = this.lanes[priority];
          lane.splice(lane.indexOf(waiter), 1);
          reject(new Error('aborted'));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        const resolveAndDetach = waiter.resolve;
        waiter.resolve = (ms) => {
          signal.removeEventListener('abort', onAbort);
          resolveAndDetach(ms);
        };
      }
      this.pump();
    });
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.qps) / 1000);
    this.last = now;
  }

  /** Hands out whatever tokens there are, high lane first, and sets a timer for the next one. */
  private pump(): void {
    this.refill();
    while (this.tokens >= 1) {
      const waiter = this.lanes.high.shift() ?? this.lanes.low.shift();
      if (!waiter) break;
      this.tokens -= 1;
      waiter.done = true;
      waiter.resolve(this.clock.now() - waiter.since);
    }
    if (this.cancelTimer || this.lanes.high.length + this.lanes.low.length === 0) return;
    const ms = Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.qps));
    this.cancelTimer = this.clock.setTimer(() => {
      this.cancelTimer = undefined;
      this.pump();
    }, ms);
  }
}
