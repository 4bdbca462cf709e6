/**
 * The hub's Redis connections (the overflow relay's, the cluster's): they fail fast while Redis is away (no offline queue, a
 * short command timeout) instead of holding requests, reconnect with a capped backoff, and log each transition
 * (lost, back) once rather than every failed attempt.
 */
import { childLogger, describeError } from '@sightline/shared';
import { Redis, type RedisOptions } from 'ioredis';

export interface RedisClientOptions {
  /** Longest wait for one command (ms); 0 for none (a blocking reader). Default 1000. */
  commandTimeoutMs?: number;
  /** Longest wait for a connection (ms). Default 2000. */
  connectTimeoutMs?: number;
  /** Longest pause between reconnect attempts (ms). Default 2000. */
  maxBackoffMs?: number;
  /** Name in the log lines. Default 'redis'. */
  name?: string;
  /** What a Redis outage means for this client's users, for the log lines. Default 'its commands fail'. */
  whileDown?: string;
}

/** Clients being closed on purpose: their last `close` is not an outage. */
const closing = new WeakSet<Redis>();

/** A connected-or-reconnecting ioredis client; `ready` tells whether commands can run now. */
export function createRedisClient(url: string, options: RedisClientOptions = {}): Redis {
  const log = childLogger('redis');
  const whileDown = options.whileDown ?? 'its commands fail';
  const maxBackoff = options.maxBackoffMs ?? 2000;
  const name = options.name ?? 'redis';
  const commandTimeout = options.commandTimeoutMs ?? 1000;
  const redisOptions: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: options.connectTimeoutMs ?? 2000,
    ...(commandTimeout > 0 ? { commandTimeout } : {}),
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), maxBackoff),
  };
  const client = new Redis(url, redisOptions);
  let state: 'starting' | 'up' | 'down' = 'starting';
  client.on('ready', () => {
    if (state === 'down') log.info({ client: name }, 'redis reachable again');
    state = 'up';
  });
  // Every failed reconnect emits an error: only the first after being up (or the first ever) is logged.
  client.on('error', (err) => {
    if (state === 'down') return;
    log.warn({ client: name, err: describeError(err) }, `redis unreachable: ${whileDown}`);
    state = 'down';
  });
  client.on('close', () => {
    if (state === 'up' && !closing.has(client)) {
      log.warn({ client: name }, `redis connection lost: ${whileDown}`);
      state = 'down';
    }
  });
  return client;
}

/** Disconnects `client` for good, without logging an outage. */
export function closeRedisClient(client: Redis): void {
  closing.add(client);
  client.disconnect();
}
