/** Token-bucket rate limiting per key (a token id, or a client address for refused credentials). */

export interface RateLimiterOptions {
  /** Sustained requests per second per key. Default 50. */
  ratePerSec?: number;
  /** Requests a key may make at once before the rate applies. Default 100. */
  burst?: number;
  /** Most keys tracked; the least recently used is forgotten beyond it. Default 10000. */
  maxKeys?: number;
  /** Clock in ms. Default Date.now. */
  now?: () => number;
}

/** What the API needs of a limiter: the in-memory RateLimiter, or the Redis-backed one shared by hubs. */
export interface Limiter {
  /** 0 when `key` may make a request now, else the seconds to wait. */
  take(key: string): number | Promise<number>;
}

export class RateLimiter implements Limiter {
  readonly ratePerSec: number;
  readonly burst: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(options: RateLimiterOptions = {}) {
    this.ratePerSec = options.ratePerSec ?? 50;
    this.burst = options.burst ?? 100;
    this.#maxKeys = options.maxKeys ?? 10_000;
    this.#now = options.now ?? Date.now;
    if (!(this.ratePerSec > 0) || !(this.burst >= 1)) {
      throw new RangeError(
        `rate limit needs ratePerSec > 0 and burst >= 1 (got ${this.ratePerSec}, ${this.burst})`,
      );
    }
  }

  /** Takes one request from `key`'s bucket: 0 when allowed, else the seconds to wait before retrying. */
  take(key: string): number {
    const now = this.#now();
    const b = this.#buckets.get(key) ?? { tokens: this.burst, at: now };
    this.#buckets.delete(key); // re-inserted last: the map stays in least-recently-used order
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.ratePerSec);
    b.at = now;
    let wait = 0;
    if (b.tokens >= 1) b.tokens -= 1;
    else wait = Math.ceil((1 - b.tokens) / this.ratePerSec);
    this.#buckets.set(key, b);
    if (this.#buckets.size > this.#maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
    return wait;
  }
}
