/**
 * The hub's view of the overflow workers and their queues, refreshed from Redis every `refreshMs`: the `workers`
 * sorted set names the candidates, a worker is live while its registration key (which expires when its
 * heartbeats stop) exists and parses; per model, the stream length, entries pending (taken, not acknowledged)
 * and lag (not yet taken). While Redis is away the view is empty (no worker can be reached then anyway).
 */
import {
  childLogger,
  describeError,
  OVERFLOW_GROUP,
  overflowKeys,
  type WorkerInfo,
  WorkerInfoSchema,
} from '@sightline/shared';
import type { Redis } from 'ioredis';

/** Depth of one model's request stream. */
export interface QueueStats {
  /** Entries in the stream (taken or not, up to the cap). */
  length: number;
  /** Entries a worker took and has not acknowledged. */
  pending: number;
  /** Entries no worker took yet. */
  lag: number;
}

/** A worker as the API shows it: its registration plus what the hub derives from it. */
export type WorkerView = WorkerInfo & {
  /** ms since its last heartbeat. */
  heartbeatAgeMs: number;
  /** idle (nothing in flight, no rate), busy, or saturated (rate at 90 % of its capacity or more). */
  status: 'idle' | 'busy' | 'saturated';
};

export interface WorkerRegistryOptions {
  redis: Redis;
  /** Key prefix. */
  prefix: string;
  /** Refresh period (ms). Default 500. */
  refreshMs?: number;
  /** Models whose queues are reported even when no live worker serves them (those the hub queued to). */
  extraModels?: () => Iterable<string>;
  /** Called after each refresh with the queues (metrics). */
  onQueues?: (queues: Record<string, QueueStats>) => void;
}

/** Zset members not heard of for this long are removed from the set (ms). */
const FORGET_AFTER_MS = 600_000;

/** Reads one model stream's depth; the group may not exist yet (no worker ever joined): then all is lag. */
export async function queueStats(redis: Redis, key: string): Promise<QueueStats> {
  const [groups, length] = (await redis.pipeline().xinfo('GROUPS', key).xlen(key).exec()) as [
    [Error | null, unknown],
    [Error | null, number],
  ];
  if (groups[0] && /no such key/i.test(String(groups[0]))) return { length: 0, pending: 0, lag: 0 };
  if (groups[0]) throw groups[0];
  if (length[0]) throw length[0];
  const len = Number(length[1]);
  const group = (groups[1] as unknown[][]).map(pairs).find((g) => g.name === OVERFLOW_GROUP);
  if (!group) return { length: len, pending: 0, lag: len };
  const pending = Number(group.pending ?? 0);
  // Redis counts entries trimmed since the group's position as lag too: no more than the stream holds.
  if (group.lag !== null && group.lag !== undefined)
    return { length: len, pending, lag: Math.min(Number(group.lag), len) };
  // Redis cannot tell the lag after entries were trimmed past the group's position: count what follows it.
  const after = await redis.xrange(key, `(${String(group['last-delivered-id'])}`, '+', 'COUNT', len);
  return { length: len, pending, lag: after.length };
}

/** A flat [k, v, k, v] reply as an object. */
function pairs(flat: unknown[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) o[String(flat[i])] = flat[i + 1];
  return o;
}

export class WorkerRegistry {
  readonly #opts: WorkerRegistryOptions;
  readonly #keys: ReturnType<typeof overflowKeys>;
  readonly #log = childLogger('overflow');
  #workers: WorkerInfo[] = [];
  #queues: Record<string, QueueStats> = {};
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #closed = false;

  constructor(options: WorkerRegistryOptions) {
    this.#opts = options;
    this.#keys = overflowKeys(options.prefix);
    this.#schedule(0);
  }

  /** Live workers, as of the last refresh. */
  get workers(): readonly WorkerInfo[] {
    return this.#workers;
  }

  /** Queue depth per model, as of the last refresh. */
  get queues(): Readonly<Record<string, QueueStats>> {
    return this.#queues;
  }

  /** Whether a live worker consumes `model`. */
  serves(model: string): boolean {
    return this.#workers.some((w) => w.models.includes(model));
  }

  /** Frames per second the live workers serving `model` measured they can do (0 while none has measured yet). */
  capacityFps(model: string): number {
    return this.#workers.filter((w) => w.models.includes(model)).reduce((n, w) => n + w.capacityFps, 0);
  }

  /** The workers with their derived status. */
  views(now = Date.now()): WorkerView[] {
    return this.#workers.map((w) => ({
      ...w,
      heartbeatAgeMs: Math.max(0, now - w.heartbeatAt),
      status:
        w.capacityFps > 0 && w.rateFps >= 0.9 * w.capacityFps
          ? 'saturated'
          : w.inFlight > 0 || w.rateFps > 0
            ? 'busy'
            : 'idle',
    }));
  }

  /** Refreshes now (tests, and the timer); never rejects. */
  refresh(): Promise<void> {
    this.#running ??= this.#refresh().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #schedule(ms: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      void this.refresh().then(() => this.#schedule(this.#opts.refreshMs ?? 500));
    }, ms);
    this.#timer.unref();
  }

  async #refresh(): Promise<void> {
    const { redis } = this.#opts;
    if (redis.status !== 'ready') {
      this.#workers = [];
      return;
    }
    try {
      const ids = await redis.zrange(this.#keys.workers, 0, -1);
      const raw = ids.length ? await redis.mget(ids.map((id) => this.#keys.worker(id))) : [];
      const workers: WorkerInfo[] = [];
      raw.forEach((json, i) => {
        if (json === null) return; // expired: heartbeats stopped
        try {
          const parsed = WorkerInfoSchema.safeParse(JSON.parse(json));
          if (parsed.success) workers.push(parsed.data);
          else this.#log.debug({ worker: ids[i] }, 'worker registration does not parse: ignored');
        } catch {
          this.#log.debug({ worker: ids[i] }, 'worker registration is not JSON: ignored');
        }
      });
      // Registrations gone long ago leave the set (a worker re-adds itself with its next heartbeat anyway).
      await redis.zremrangebyscore(this.#keys.workers, '-inf', Date.now() - FORGET_AFTER_MS);
      const models = new Set([...workers.flatMap((w) => w.models), ...(this.#opts.extraModels?.() ?? [])]);
      const queues: Record<string, QueueStats> = {};
      for (const model of [...models].sort())
        queues[model] = await queueStats(redis, this.#keys.requests(model));
      this.#workers = workers;
      this.#queues = queues;
      this.#opts.onQueues?.(queues);
    } catch (err) {
      this.#workers = [];
      this.#log.debug({ err: describeError(err) }, 'worker refresh failed');
    }
  }
}
