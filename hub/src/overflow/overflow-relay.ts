/**
 * The hub's end of the overflow path (shared/src/overflow.ts): an edge's `infer` goes on the model's Redis stream
 * for the workers, or is answered at once when it cannot be served (no Redis: UNAVAILABLE; no live worker for the
 * model or the queue at its cap: SHED; past its deadline: EXPIRED). Workers' answers come back on this hub's
 * results stream and go to the asking edge's live connection.
 */
import { randomBytes } from 'node:crypto';
import {
  childLogger,
  describeError,
  type InferRequest,
  type Inferred,
  OFFLOAD_FAILURES,
  OVERFLOW_ENTRY_FIELDS,
  OVERFLOW_GROUP,
  overflowKeys,
  REDIS_PREFIX_DEFAULT,
} from '@sightline/shared';
import type { Redis } from 'ioredis';
import type { HubMetrics } from '../hub-metrics.ts';
import { closeRedisClient, createRedisClient } from '../redis-client.ts';
import { enqueue } from './enqueue-script.ts';
import { ResultsReader } from './results-reader.ts';
import { type QueueStats, queueStats, WorkerRegistry, type WorkerView } from './worker-registry.ts';

export interface OverflowRelayOptions {
  /** Redis URL or client. Default none: every `infer` is answered OVERFLOW_UNAVAILABLE at once. */
  redis?: string | Redis;
  /** Key prefix. Default REDIS_PREFIX_DEFAULT ('sightline:'). */
  prefix?: string;
  /** This hub's id, naming its results stream. Default a random one per process. */
  hubId?: string;
  /** Entries a model stream keeps, and the backlog (entries no worker took) at which requests are shed. Default 256. */
  maxQueue?: number;
  /** Period of the worker and queue refresh (ms). Default 500. */
  refreshMs?: number;
  /** Sends an answer to the edge's live connection; false when it has none. */
  deliver: (edgeId: string, message: Inferred) => boolean;
  metrics?: HubMetrics;
}

/** What happened to a request at submit. */
export type SubmitOutcome = 'queued' | 'shed' | 'unavailable' | 'expired';

/** GET /api/v1/workers. */
export interface OverflowSnapshot {
  redis: 'connected' | 'unavailable' | 'off';
  workers: WorkerView[];
  queues: Record<string, QueueStats>;
}

/** A queued request, until its answer comes (or long after its deadline). */
interface InFlight {
  queuedAt: number;
  deadline: number;
}

/** What the relay does while Redis is away (its log lines say so). */
const OVERFLOW_DOWN = 'overflow requests are refused';

/** A queued request is forgotten this long after its deadline (ms): its answer, if any, is useless by then. */
const FORGET_AFTER_DEADLINE_MS = 60_000;

export class OverflowRelay {
  readonly #opts: OverflowRelayOptions;
  readonly #log = childLogger('overflow');
  readonly #keys: ReturnType<typeof overflowKeys>;
  readonly #maxQueue: number;
  readonly #redis: Redis | undefined;
  readonly #reader: Redis | undefined;
  readonly #ownsRedis: boolean;
  readonly #registry: WorkerRegistry | undefined;
  readonly #results: ResultsReader | undefined;
  readonly #inFlight = new Map<string, InFlight>();
  /** Models this hub queued to (their queues are reported even without a live worker). */
  readonly #models = new Set<string>();
  readonly #sweeper: NodeJS.Timeout;
  /** This hub's id: workers add its answers to `results(hubId)`. */
  readonly hubId: string;

  constructor(options: OverflowRelayOptions) {
    this.#opts = options;
    this.hubId = options.hubId ?? `hub-${randomBytes(6).toString('hex')}`;
    this.#keys = overflowKeys(options.prefix ?? REDIS_PREFIX_DEFAULT);
    this.#maxQueue = options.maxQueue ?? 256;
    if (!Number.isInteger(this.#maxQueue) || this.#maxQueue < 1) {
      throw new RangeError(`Expected maxQueue >= 1 but received ${this.#maxQueue}`);
    }
    const { redis, metrics } = options;
    this.#ownsRedis = typeof redis === 'string';
    this.#redis =
      typeof redis === 'string'
        ? createRedisClient(redis, { name: 'commands', whileDown: OVERFLOW_DOWN })
        : redis;
    if (this.#redis) {
      // Blocked in XREAD most of the time: a connection of its own, with no command timeout.
      this.#reader =
        typeof redis === 'string'
          ? createRedisClient(redis, { name: 'results', commandTimeoutMs: 0, whileDown: OVERFLOW_DOWN })
          : this.#redis.duplicate({ commandTimeout: undefined });
      if (typeof redis !== 'string') this.#reader.on('error', () => {});
      this.#registry = new WorkerRegistry({
        redis: this.#redis,
        prefix: options.prefix ?? REDIS_PREFIX_DEFAULT,
        refreshMs: options.refreshMs,
        extraModels: () => this.#models,
        onQueues: (queues) => {
          for (const [model, q] of Object.entries(queues)) {
            metrics?.overflowQueueLength.set({ model }, q.length);
            metrics?.overflowQueuePending.set({ model }, q.pending);
          }
        },
      });
      this.#results = new ResultsReader({
        redis: this.#reader,
        key: this.#keys.results(this.hubId),
        onAnswer: (edgeId, answer) => this.#answer(edgeId, answer),
        onMalformed: () => metrics?.overflowMalformedAnswers.inc(),
      });
    }
    this.#sweeper = setInterval(() => {
      const now = Date.now();
      for (const [k, f] of this.#inFlight)
        if (now > f.deadline + FORGET_AFTER_DEADLINE_MS) this.#inFlight.delete(k);
    }, 10_000);
    this.#sweeper.unref();
  }

  /** off without Redis configured, else whether it is reachable now. */
  get redisState(): OverflowSnapshot['redis'] {
    if (!this.#redis) return 'off';
    return this.#redis.status === 'ready' ? 'connected' : 'unavailable';
  }

  /** Workers and queues, as of the last refresh. */
  snapshot(): OverflowSnapshot {
    const connected = this.redisState === 'connected';
    return {
      redis: this.redisState,
      workers: connected ? (this.#registry?.views() ?? []) : [],
      queues: connected ? { ...this.#registry?.queues } : {},
    };
  }

  /** Refreshes the worker view now (it also refreshes every `refreshMs`). */
  async refresh(): Promise<void> {
    await this.#registry?.refresh();
  }

  /**
   * Queues `request` (`raw`: its msgpack bytes as the edge sent them; `receivedAt`: epoch ms it arrived, its
   * budget counts from then) or answers it at once through `deliver`; never rejects.
   */
  async submit(
    edgeId: string,
    request: InferRequest,
    raw: Uint8Array,
    receivedAt = Date.now(),
  ): Promise<SubmitOutcome> {
    const refuse = (outcome: Exclude<SubmitOutcome, 'queued'>, code: string, message: string) => {
      this.#opts.metrics?.overflowRequests.inc({ outcome });
      this.#deliver(edgeId, { t: 'inferred', id: request.id, ok: false, error: { code, message } });
      return outcome;
    };
    const redis = this.#redis;
    if (!redis)
      return refuse('unavailable', OFFLOAD_FAILURES.UNAVAILABLE, 'the hub has no Redis (overflow is off)');
    const expired = () => Date.now() - receivedAt >= request.budgetMs;
    const spent = 'its budget ran out before the request was queued';
    if (expired()) return refuse('expired', OFFLOAD_FAILURES.EXPIRED, spent);
    if (redis.status !== 'ready') {
      return refuse('unavailable', OFFLOAD_FAILURES.UNAVAILABLE, 'the hub cannot reach Redis now');
    }
    if (!this.#registry?.serves(request.model)) {
      return refuse('shed', OFFLOAD_FAILURES.SHED, `no live worker serves model "${request.model}"`);
    }
    const key = this.#keys.requests(request.model);
    try {
      const { lag, pending } = await queueStats(redis, key);
      if (lag >= this.#maxQueue) {
        return refuse('shed', OFFLOAD_FAILURES.SHED, `the "${request.model}" queue is full (${lag} waiting)`);
      }
      // Routed by capacity: shed what the workers could not finish within the budget (entries ahead counted at
      // this request's size; the workers' measured frames per second, once they have measured it).
      const capacity = this.#registry.capacityFps(request.model);
      const frames = request.frames.length;
      const waitMs = capacity > 0 ? (((lag + pending) * frames + frames) / capacity) * 1000 : 0;
      const leftMs = request.budgetMs - (Date.now() - receivedAt);
      if (waitMs > leftMs) {
        return refuse(
          'shed',
          OFFLOAD_FAILURES.SHED,
          `the "${request.model}" workers are full: about ${Math.round(waitMs)} ms of work for ${Math.round(leftMs)} ms of budget`,
        );
      }
      if (expired()) return refuse('expired', OFFLOAD_FAILURES.EXPIRED, spent);
      const now = Date.now();
      const [, trimmed] = await enqueue(redis, key, this.#maxQueue, OVERFLOW_GROUP, {
        [OVERFLOW_ENTRY_FIELDS.hub]: this.hubId,
        [OVERFLOW_ENTRY_FIELDS.edge]: edgeId,
        [OVERFLOW_ENTRY_FIELDS.at]: String(now),
        [OVERFLOW_ENTRY_FIELDS.req]: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength),
      });
      const { metrics } = this.#opts;
      if (trimmed > 0) {
        metrics?.overflowTrimmed.inc({ model: request.model }, trimmed);
        this.#log.warn({ model: request.model, trimmed }, 'queue cap trimmed requests no worker took');
      }
      this.#models.add(request.model);
      this.#inFlight.set(this.#key(edgeId, request.id), {
        queuedAt: performance.now(),
        deadline: now + request.budgetMs,
      });
      metrics?.overflowRequests.inc({ outcome: 'queued' });
      metrics?.overflowFrames.inc(request.frames.length);
      return 'queued';
    } catch (err) {
      this.#log.debug({ edge: edgeId, err: describeError(err) }, 'overflow request not queued');
      return refuse(
        'unavailable',
        OFFLOAD_FAILURES.UNAVAILABLE,
        `the hub cannot reach Redis now: ${describeError(err)}`,
      );
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    await this.#registry?.close();
    // Disconnecting ends a blocked XREAD at once.
    if (this.#reader) closeRedisClient(this.#reader);
    await this.#results?.close();
    if (this.#redis?.status === 'ready') {
      await this.#redis.del(this.#keys.results(this.hubId)).catch(() => {});
    }
    if (this.#ownsRedis && this.#redis) closeRedisClient(this.#redis);
  }

  #key(edgeId: string, id: string): string {
    return `${edgeId}\n${id}`;
  }

  #answer(edgeId: string, answer: Inferred): void {
    const { metrics } = this.#opts;
    const outcome = answer.ok
      ? 'answered'
      : answer.error?.code === OFFLOAD_FAILURES.EXPIRED
        ? 'expired'
        : 'failed';
    metrics?.overflowRequests.inc({ outcome });
    const k = this.#key(edgeId, answer.id);
    const flight = this.#inFlight.get(k);
    if (flight) {
      this.#inFlight.delete(k);
      metrics?.overflowRoundTripSeconds.observe((performance.now() - flight.queuedAt) / 1000);
    }
    if (this.#deliver(edgeId, answer)) metrics?.overflowAnswersDelivered.inc();
    else
      this.#log.debug({ edge: edgeId, id: answer.id }, 'overflow answer for an edge not connected: dropped');
  }

  #deliver(edgeId: string, message: Inferred): boolean {
    try {
      return this.#opts.deliver(edgeId, message);
    } catch (err) {
      this.#log.warn({ edge: edgeId, err: describeError(err) }, 'overflow answer not delivered');
      return false;
    }
  }
}
