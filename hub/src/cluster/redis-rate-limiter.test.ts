/**
 * The Redis-backed rate limiter against the machine's Redis (127.0.0.1:6379, a unique key prefix per test, its
 * keys deleted after): the token bucket's semantics match the in-memory one, two limiters (two hubs) share a
 * key's rate, and it falls back to memory while Redis is unreachable.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { RateLimiter } from '../auth/rate-limiter.ts';
import { RedisRateLimiter } from './redis-rate-limiter.ts';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const clients: Redis[] = [];
const prefixes: string[] = [];

async function client(url = REDIS_URL): Promise<Redis> {
  const r = new Redis(url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  r.on('error', () => {});
  clients.push(r);
  await new Promise<void>((ok) => {
    if (r.status === 'ready') ok();
    r.once('ready', () => ok());
    r.once('end', () => ok());
  });
  return r;
}

function prefix(): string {
  const p = `test:ratelimit:${randomBytes(4).toString('hex')}:`;
  prefixes.push(p);
  return p;
}

const probe = await client();
const skip = probe.status === 'ready' ? false : `Redis at ${REDIS_URL} is unreachable`;

after(async () => {
  if (!skip) {
    for (const p of prefixes) {
      const keys = await probe.keys(`${p}*`);
      if (keys.length) await probe.del(...keys);
    }
  }
  for (const c of clients) c.disconnect();
});

describe('RedisRateLimiter', { skip }, () => {
  test('bursts, then refills at the rate, like the in-memory limiter', async () => {
    let now = 1_000_000;
    const opts = { ratePerSec: 2, burst: 3, now: () => now };
    const redis = new RedisRateLimiter({ ...opts, redis: probe, prefix: prefix() });
    const memory = new RateLimiter(opts);
    const seen: [number, number][] = [];
    for (const step of [0, 0, 0, 0, 0, 250, 250, 500, 0, 0, 2000, 0, 0, 0, 0]) {
      now += step;
      seen.push([await redis.take('token:a'), memory.take('token:a')]);
    }
    for (const [r, m] of seen) assert.equal(r, m);
    assert.deepEqual(
      seen.map(([r]) => r),
      [0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1],
    );
    // Keys are separate buckets.
    assert.equal(await redis.take('token:b'), 0);
  });

  test('two limiters on one prefix (two hubs) share each key’s rate', async () => {
    const p = prefix();
    const a = new RedisRateLimiter({ ratePerSec: 0.5, burst: 4, redis: probe, prefix: p });
    const b = new RedisRateLimiter({ ratePerSec: 0.5, burst: 4, redis: await client(), prefix: p });
    const waits = [await a.take('k'), await b.take('k'), await a.take('k'), await b.take('k')];
    assert.deepEqual(waits, [0, 0, 0, 0]);
    assert.equal(await a.take('k'), 2);
    assert.equal(await b.take('k'), 2);
    // The bucket expires when idle: its key carries a TTL.
    const ttl = await probe.pttl(`${p}rate:k`);
    assert.ok(ttl > 0 && ttl <= 9000, `ttl ${ttl}`);
  });

  test('falls back to memory while Redis is unreachable', async () => {
    // A port nothing listens on: the client never gets ready.
    const down = await client('redis://127.0.0.1:1');
    const limiter = new RedisRateLimiter({ ratePerSec: 1, burst: 2, redis: down, prefix: prefix() });
    assert.equal(await limiter.take('k'), 0);
    assert.equal(await limiter.take('k'), 0);
    assert.equal(await limiter.take('k'), 1);
  });
});
