/**
 * An overflow worker: serves one or more models to every hub sharing a Redis. It consumes each model's request
 * stream in the `workers` group (one lane per model, see model-lane.ts), runs the edge's inference engine on the
 * frames, answers on the asking hub's results stream, and publishes its registration and rates with a heartbeat.
 */
import { hostname } from 'node:os';
import {
  batchedEntry,
  type InferenceBackend,
  type InferenceBackendFactory,
  InferencePool,
  type LoadedModel,
  loadModel,
  type PoolLogger,
  retuneIfStale,
  tunedInference,
} from '@sightline/edge';
import {
  ClosedError,
  childLogger,
  ID_PATTERN,
  type InferenceConfig,
  overflowKeys,
  REDIS_PREFIX_DEFAULT,
  StoreError,
  TypedEmitter,
  type WorkerInfo,
} from '@sightline/shared';
import { Redis } from 'ioredis';
import type { z } from 'zod';
import { ThroughputMeter } from './meter.ts';
import { ModelLane, type WorkerCounters } from './model-lane.ts';

export interface OverflowWorkerOptions {
  /** Models to serve (manifest ids, e.g. "yolox_nano"); at least one. */
  models: readonly string[];
  /** Redis to consume from. Default $REDIS_URL or redis://127.0.0.1:6379. */
  redisUrl?: string;
  /** Prefix of every Redis key (the hubs' `redis.prefix`). Default REDIS_PREFIX_DEFAULT ("sightline:"). */
  prefix?: string;
  /** Directory holding model files. Default $MODELS_DIR or <repo>/models/cache (as loadModel). */
  modelsDir?: string;
  /** Manifest file. Default <repo>/models/manifest.json. */
  manifestPath?: string;
  /** Providers, sessions, threads, batch size of each model's pool. Default: InferenceConfig defaults (cpu, 2 sessions). */
  inference?: z.input<typeof InferenceConfig>;
  /** Starts one model's backend. Default InferencePool.create (the edge's pool). */
  inferenceBackend?: InferenceBackendFactory;
  /**
   * Use stored tunings (`sightline tune`, see tunedInference): a model whose `inference` sets none of the layout
   * fields (sessions, intraOpThreads, spinning, batchSize) starts with the layout tuned for this host, model file
   * and provider. `stateDir` is where tuning.json is (default $SIGHTLINE_STATE_DIR or ~/.cache/sightline);
   * `retune` (default true) measures again first when the stored tuning is for another model file or provider.
   * Default: off.
   */
  tuning?: { stateDir?: string; retune?: boolean };
  /** Consumer name and registration id (letters, digits, _ . -). Default `${hostname}-${pid}`. */
  workerId?: string;
  /** Entries pending longer than this on any consumer (one that died) are taken over. Default 10000 ms. */
  claimIdleMs?: number;
  /** Registration refresh; it expires after 3 periods without one. Default 1000 ms. */
  heartbeatMs?: number;
  /** Longest one XREADGROUP blocks (how soon close() stops reading). Default 100 ms. */
  blockMs?: number;
  /** Approximate cap of a hub's results stream (XADD MAXLEN ~). Default 10000 entries. */
  maxStreamLength?: number;
  /** A results stream expires this long after its last answer. Default 60000 ms. */
  resultsTtlMs?: number;
  /** How long close() waits for the entries taken to be answered. Default 30000 ms. */
  closeGraceMs?: number;
  /** Where warnings (malformed entries, Redis trouble) go. Default childLogger('worker'). */
  logger?: PoolLogger;
}

export type OverflowWorkerEvents = {
  /** A model's backend failed for good: the worker stopped reading its stream. */
  failed: [model: string, error: Error];
};

/** `${hostname}-${pid}` with anything an id may not hold replaced, at most 64 characters. */
export function defaultWorkerId(): string {
  const id = `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return id.slice(-64) || `worker-${process.pid}`;
}

export class OverflowWorker extends TypedEmitter<OverflowWorkerEvents> {
  /** Consumer name and registration id. */
  readonly id: string;
  readonly redisUrl: string;
  readonly prefix: string;
  readonly #o: OverflowWorkerOptions;
  readonly #log: PoolLogger;
  readonly #keys: ReturnType<typeof overflowKeys>;
  readonly #heartbeatMs: number;
  readonly #counters: WorkerCounters = { inFlight: 0, processed: 0, failed: 0, malformed: 0, expired: 0 };
  readonly #meter = new ThroughputMeter();
  readonly #lanes: ModelLane[] = [];
  readonly #backends: InferenceBackend[] = [];
  readonly #readers: Redis[] = [];
  #models: LoadedModel[] = [];
  #redis: Redis | undefined;
  #connected = false;
  #started = false;
  #closed: Promise<void> | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #startedAt = 0;
  #lastRedisError = '';
  #connectError: string | undefined;

  constructor(options: OverflowWorkerOptions) {
    super();
    if (!options.models.length) throw new TypeError('OverflowWorker needs at least one model');
    this.#o = options;
    this.id = options.workerId ?? defaultWorkerId();
    if (!ID_PATTERN.test(this.id)) {
      throw new TypeError(
        `Expected a worker id of letters, digits, _ . - (max 64) but received "${this.id}"`,
      );
    }
    this.redisUrl = options.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    this.prefix = options.prefix ?? REDIS_PREFIX_DEFAULT;
    this.#keys = overflowKeys(this.prefix);
    this.#heartbeatMs = options.heartbeatMs ?? 1000;
    this.#log = options.logger ?? childLogger('worker', { worker: this.id });
  }

  /**
   * Load and verify the models, connect to Redis, start a backend per model, create the consumer groups, register
   * and start consuming. Throws ModelError (unknown or missing model), StoreError STORE_UNAVAILABLE (Redis cannot
   * be reached) or the backend's error; nothing is left running then.
   */
  async start(): Promise<void> {
    if (this.#started) throw new Error('OverflowWorker.start() was already called');
    this.#started = true;
    const o = this.#o;
    try {
      const names = [...new Set(o.models)];
      this.#models = await Promise.all(
        names.map((m) => loadModel(m, { modelsDir: o.modelsDir, manifestPath: o.manifestPath })),
      );
      const redis = await this.#connect();
      const factory = o.inferenceBackend ?? InferencePool.create;
      for (const model of this.#models) {
        if (o.tuning && o.tuning.retune !== false) {
          await retuneIfStale(model, o.inference, { ...o.tuning, factory, log: this.#log });
        }
        const inference = o.tuning
          ? tunedInference(model.entry, undefined, o.inference, { ...o.tuning, log: this.#log }).inference
          : o.inference;
        const backend = await factory({
          // A batch-agnostic detector runs batched on a GPU or when the batch size is set or tuned (batchedEntry).
          model: batchedEntry(model.entry, inference),
          modelPath: model.path,
          labels: model.labels,
          inference,
          logger: this.#log,
        });
        this.#backends.push(backend);
        const reader = redis.duplicate();
        this.#watchErrors(reader);
        this.#readers.push(reader);
        this.#lanes.push(
          new ModelLane({
            model: { name: model.entry.id, sha256: model.entry.sha256 },
            backend,
            stream: this.#keys.requests(model.entry.id),
            redis,
            reader,
            consumer: this.id,
            resultsKey: this.#keys.results,
            claimIdleMs: o.claimIdleMs ?? 10_000,
            blockMs: o.blockMs ?? 100,
            maxStreamLength: o.maxStreamLength ?? 10_000,
            resultsTtlMs: o.resultsTtlMs ?? 60_000,
            counters: this.#counters,
            meter: this.#meter,
            log: this.#log,
            onFailed: (err) => this.emit('failed', model.entry.id, err),
          }),
        );
      }
      for (const lane of this.#lanes) await lane.ensureGroup();
      this.#startedAt = Date.now();
      await this.#beat();
      for (const lane of this.#lanes) lane.start();
      this.#scheduleHeartbeat();
      this.#log.info(
        { models: names, provider: this.#provider(), maxBatch: this.#maxBatch(), prefix: this.prefix },
        'overflow worker consuming',
      );
    } catch (err) {
      await this.#release();
      throw err;
    }
  }

  /** Models served (manifest ids). */
  get models(): string[] {
    return this.#models.map((m) => m.entry.id);
  }

  /** Counters since start (frames, except `malformed` and `expired`: entries). */
  get counters(): Readonly<WorkerCounters> {
    return { ...this.#counters };
  }

  /**
   * What the worker publishes about itself. `rateFps` covers the time since the previous info() call with
   * `period` true (the heartbeat's), so other callers leave it false.
   */
  info(period = false): WorkerInfo & { expired: number } {
    const c = this.#counters;
    const now = Date.now();
    return {
      id: this.id,
      host: hostname(),
      pid: process.pid,
      models: this.models,
      provider: this.#provider(),
      maxBatch: this.#maxBatch(),
      capacityFps: round(this.#meter.capacity()),
      rateFps: period ? round(this.#meter.rate()) : 0,
      inFlight: Math.max(0, c.inFlight),
      processed: c.processed,
      failed: c.failed,
      malformed: c.malformed,
      expired: c.expired,
      startedAt: this.#startedAt,
      heartbeatAt: now,
    };
  }

  /**
   * Stop reading, answer the entries taken (waiting at most closeGraceMs), deregister, disconnect from Redis and
   * close the backends. Safe to call twice.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      clearTimeout(this.#heartbeat);
      this.#heartbeat = undefined;
      const grace = this.#o.closeGraceMs ?? 30_000;
      await Promise.all(this.#lanes.map((lane) => lane.stop(grace)));
      const redis = this.#redis;
      if (redis && this.#startedAt) {
        await redis
          .multi()
          .del(this.#keys.worker(this.id))
          .zrem(this.#keys.workers, this.id)
          .exec()
          .catch((err: Error) => this.#log.warn({ err: err.message }, 'cannot deregister the worker'));
      }
      await this.#release();
    })();
    return this.#closed;
  }

  async #connect(): Promise<Redis> {
    const redis = new Redis(this.redisUrl, {
      lazyConnect: true,
      connectTimeout: 5000,
      // The first connection fails at once (start() reports it); later losses are retried for as long as it takes.
      retryStrategy: (times) => (this.#connected ? Math.min(times * 200, 2000) : null),
    });
    this.#redis = redis;
    this.#watchErrors(redis);
    try {
      await redis.connect();
      await redis.ping();
    } catch (err) {
      throw new StoreError(
        'STORE_UNAVAILABLE',
        `Cannot reach Redis at ${redact(this.redisUrl)}: ${this.#connectError ?? ((err as Error).message || String(err))}`,
        { cause: err },
      );
    }
    this.#connected = true;
    return redis;
  }

  /** Log connection trouble once per distinct message (ioredis repeats it at every retry). */
  #watchErrors(redis: Redis): void {
    redis.on('error', (err: Error) => {
      if (!this.#connected) {
        // Before the first connection: start() reports it (ioredis rejects connect() with a vaguer message).
        this.#connectError ??= err.message;
        return;
      }
      if (err.message === this.#lastRedisError) return;
      this.#lastRedisError = err.message;
      this.#log.warn({ err: err.message }, 'redis connection trouble; retrying');
    });
    redis.on('ready', () => {
      this.#lastRedisError = '';
    });
  }

  #scheduleHeartbeat(): void {
    this.#heartbeat = setTimeout(() => {
      this.#beat()
        .catch((err: Error) => this.#log.warn({ err: err.message }, 'worker heartbeat failed'))
        .finally(() => {
          if (this.#heartbeat) this.#scheduleHeartbeat();
        });
    }, this.#heartbeatMs);
  }

  /** Registration: the worker key (expires after 3 missed heartbeats) and its score in the workers set. */
  async #beat(): Promise<void> {
    const redis = this.#redis;
    if (!redis) throw new ClosedError('OverflowWorker');
    const info = this.info(true);
    await redis
      .multi()
      .set(this.#keys.worker(this.id), JSON.stringify(info), 'PX', this.#heartbeatMs * 3)
      .zadd(this.#keys.workers, info.heartbeatAt, this.id)
      .exec();
  }

  #provider(): string {
    return [...new Set(this.#backends.map((b) => b.provider))].join(',') || 'none';
  }

  #maxBatch(): number {
    return Math.max(1, ...this.#backends.map((b) => b.maxBatch));
  }

  /** Disconnect and close the backends (whatever start() got to). */
  async #release(): Promise<void> {
    this.#connected = false;
    for (const r of [...this.#readers, this.#redis]) {
      if (!r) continue;
      await r.quit().catch(() => r.disconnect());
    }
    await Promise.allSettled(this.#backends.map((b) => b.close()));
  }
}

const round = (n: number) => Math.round(n * 10) / 10;

/** The URL without its password, for messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
