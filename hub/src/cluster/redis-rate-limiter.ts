/**
 * The RateLimiter's token bucket kept in Redis (a Lua script, atomic), so that hubs sharing a fleet share each
 * key's rate: a token making requests to two hubs gets the rate once, not once per hub. While Redis is away the
 * hub falls back to its in-memory RateLimiter (said once in the log, and once when Redis is back).
 */
import { childLogger, describeError } from '@sightline/shared';
import type { Redis } from 'ioredis';
import { RateLimiter, type RateLimiterOptions } from '../auth/rate-limiter.ts';

/**
 * KEYS[1] bucket; ARGV[1] rate per s, ARGV[2] burst, ARGV[3] now in ms (empty: Redis's clock, one for all hubs).
 * Returns 0 when allowed, else the whole seconds to wait.
 */
const TAKE = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) / 1000 * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / rate) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(math.max(now, at)))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return wait
`;

type WithTake = Redis & {
  sightlineRateTake(key: string, rate: number, burst: number, now: string): Promise<number>;
};

export interface RedisRateLimiterOptions extends RateLimiterOptions {
  redis: Redis;
  /** Key prefix; buckets are `<prefix>rate:<key>`. */
  prefix: string;
}

export class RedisRateLimiter {
  readonly ratePerSec: number;
  readonly burst: number;
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #clock: (() => number) | undefined;
  readonly #local: RateLimiter;
  readonly #log = childLogger('cluster');
  #fallingBack = false;

  constructor(options: RedisRateLimiterOptions) {
    this.#local = new RateLimiter(options);
    this.ratePerSec = this.#local.ratePerSec;
    this.burst = this.#local.burst;
    this.#redis = options.redis;
    this.#prefix = options.prefix;
    this.#clock = options.now;
    const r = this.#redis as WithTake;
    if (typeof r.sightlineRateTake !== 'function')
      r.defineCommand('sightlineRateTake', { numberOfKeys: 1, lua: TAKE });
  }

  /** Takes one request from `key`'s bucket: 0 when allowed, else the seconds to wait before retrying. */
  async take(key: string): Promise<number> {
    if (this.#redis.status === 'ready') {
      try {
        const now = this.#clock ? String(this.#clock()) : '';
        const wait = await (this.#redis as WithTake).sightlineRateTake(
          `${this.#prefix}rate:${key}`,
          this.ratePerSec,
          this.burst,
          now,
        );
        if (this.#fallingBack) {
          this.#fallingBack = false;
          this.#log.info('redis is back: rate limits are shared by the hubs again');
        }
        return Number(wait);
      } catch (err) {
        this.#fallBack(err);
      }
    } else this.#fallBack(new Error(`redis is ${this.#redis.status}`));
    return this.#local.take(key);
  }

  #fallBack(err: unknown): void {
    if (this.#fallingBack) return;
    this.#fallingBack = true;
    this.#log.warn(
      { err: describeError(err) },
      'redis unreachable: rate limits are kept per hub (in memory) until it is back',
    );
  }
}
