/**
 * One model's share of a worker: reads its request stream (taking over entries of dead consumers first), packs
 * the frames of many entries into model calls, keeps as many calls in flight as the backend has free slots, and
 * answers each entry on its hub's results stream before acknowledging it.
 */
import type { DecodedFrame, InferenceBackend, PoolLogger } from '@sightline/edge';
import { type Inferred, OFFLOAD_FAILURES, OVERFLOW_ENTRY_FIELDS, OVERFLOW_GROUP } from '@sightline/shared';
import type { Redis } from 'ioredis';
import { encodeAnswer, inferredFailed, inferredOk, toOffloadResult } from './answers.ts';
import { decodeKey, type QueuedFrame, takeBatch } from './batcher.ts';
import {
  autoclaimReplyEntries,
  type MalformedEntry,
  type ParsedEntry,
  parseEntry,
  type RawEntry,
  type RequestEntry,
  readReplyEntries,
  type ServedModel,
} from './entries.ts';
import { FrameError, toDecodedFrame } from './frames.ts';
import type { ThroughputMeter, WorkerCounters } from './meter.ts';

export type { WorkerCounters } from './meter.ts';

export interface ModelLaneOptions {
  model: ServedModel;
  backend: InferenceBackend;
  /** The model's request stream. */
  stream: string;
  /** Connection for everything but the blocking reads. */
  redis: Redis;
  /** Connection of its own for the blocking XREADGROUP. */
  reader: Redis;
  /** Consumer name (the worker id). */
  consumer: string;
  /** Results stream of a hub. */
  resultsKey: (hubId: string) => string;
  claimIdleMs: number;
  blockMs: number;
  maxStreamLength: number;
  resultsTtlMs: number;
  counters: WorkerCounters;
  meter: ThroughputMeter;
  log: PoolLogger;
  /** Called once when the backend fails for good (the lane has stopped reading). */
  onFailed: (error: Error) => void;
}

/** A request being worked on. */
interface Job {
  entry: RequestEntry;
  /** Pixels per frame until its model call takes them. */
  frames: (DecodedFrame | undefined)[];
  results: ReturnType<typeof toOffloadResult>[];
  /** Frames without an answer yet. */
  remaining: number;
  /** A model call holds some of its frames (it is no longer expired as a whole). */
  started: boolean;
  /** ms it waited in the queue before this lane took it. */
  queuedMs: number;
  /** Why a model call failed, when one did. */
  error?: string;
  /** Answered (or being answered). */
  done: boolean;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

export class ModelLane {
  readonly #o: ModelLaneOptions;
  readonly #queue: QueuedFrame<Job>[] = [];
  /** Entries this lane holds (taken, not yet answered): stream entry id -> when it was taken or last touched. */
  readonly #held = new Map<string, number>();
  /** Answers being written. */
  readonly #answering = new Set<Promise<void>>();
  #calls = 0;
  #stopping = false;
  #failed = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #claimCursor = '0-0';
  #lastClaim = 0;
  #lastTouch = 0;
  /** Frames per entry, smoothed: how many entries to read for the room there is. */
  #framesPerEntry = 1;

  constructor(options: ModelLaneOptions) {
    this.#o = options;
    options.backend.on('slot', () => {
      this.#dispatch();
      this.#wakeUp();
    });
    options.backend.on('failed', (err) => this.#fail(err));
  }

  /**
   * Create the consumer group (and the stream) unless they exist. From the stream's start: entries a hub queued
   * before any worker made the group (a Redis that restarted empty) are served, or answered expired.
   */
  async ensureGroup(): Promise<void> {
    try {
      await this.#o.redis.xgroup('CREATE', this.#o.stream, OVERFLOW_GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).startsWith('BUSYGROUP')) throw err;
    }
  }

  /** Start reading. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Entries taken and not yet answered. */
  get heldEntries(): number {
    return this.#held.size;
  }

  /** Stop reading, answer every entry taken (at most `graceMs`; the rest stay pending for other workers). */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    this.#wakeUp();
    await this.#loop;
    const until = Date.now() + graceMs;
    while ((this.#held.size || this.#answering.size) && Date.now() < until && !this.#o.backend.closed) {
      this.#dispatch();
      await Promise.race([sleep(20), ...this.#answering]);
    }
    await Promise.allSettled([...this.#answering]);
  }

  /** Free room for frames: what the backend's free slots can take now, less what is queued. */
  #room(): number {
    const { backend } = this.#o;
    return backend.freeSlots * backend.maxBatch - this.#queue.length;
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async #run(): Promise<void> {
    const o = this.#o;
    let backoff = 0;
    while (!this.#stopping && !this.#failed) {
      try {
        await this.#touch();
        const room = this.#room();
        if (room <= 0) {
          await new Promise<void>((resolve) => {
            this.#wake = resolve;
            setTimeout(resolve, o.blockMs).unref();
          });
          continue;
        }
        let want = Math.max(1, Math.min(64, Math.ceil(room / this.#framesPerEntry)));
        const now = Date.now();
        if (now - this.#lastClaim >= Math.min(1000, Math.max(50, o.claimIdleMs / 4))) {
          this.#lastClaim = now;
          want -= await this.#claim(want);
        }
        if (want > 0 && !this.#stopping) {
          const reply = await o.reader.callBuffer(
            'XREADGROUP',
            'GROUP',
            OVERFLOW_GROUP,
            o.consumer,
            'COUNT',
            want,
            'BLOCK',
            o.blockMs,
            'STREAMS',
            o.stream,
            '>',
          );
          // Taken even when stopping: they are this consumer's now.
          await this.#take(readReplyEntries(reply));
        }
        backoff = 0;
      } catch (err) {
        const message = (err as Error).message;
        if (message.startsWith('NOGROUP')) {
          // The stream was deleted (trimmed away, flushed): start over at its new entries.
          await this.ensureGroup().catch(() => {});
          continue;
        }
        backoff = Math.min(2000, backoff ? backoff * 2 : 100);
        o.log.warn(
          { model: o.model.name, err: message, retryMs: backoff },
          'cannot read the overflow stream',
        );
        await sleep(backoff);
      }
    }
  }

  /** Take over entries idle longer than claimIdleMs from any consumer (one that died); returns how many. */
  async #claim(count: number): Promise<number> {
    const o = this.#o;
    const reply = await o.redis.callBuffer(
      'XAUTOCLAIM',
      o.stream,
      OVERFLOW_GROUP,
      o.consumer,
      o.claimIdleMs,
      this.#claimCursor,
      'COUNT',
      count,
    );
    const { cursor, entries } = autoclaimReplyEntries(reply);
    this.#claimCursor = cursor;
    // Entries this lane holds itself (a slow call) are not taken twice.
    const fresh = entries.filter((e) => !this.#held.has(e.id));
    if (fresh.length) {
      o.log.info({ model: o.model.name, entries: fresh.length }, 'took over entries of a stopped consumer');
      await this.#take(fresh);
    }
    return fresh.length;
  }

  /**
   * Reset the idle time of entries held for a while (XCLAIM to itself), so that no other worker takes over an
   * entry of a live one whose model calls are slow.
   */
  async #touch(): Promise<void> {
    const o = this.#o;
    const now = Date.now();
    if (now - this.#lastTouch < o.claimIdleMs / 4) return;
    this.#lastTouch = now;
    const old = [...this.#held].filter(([, at]) => now - at >= o.claimIdleMs / 2).map(([id]) => id);
    if (!old.length) return;
    // min-idle-time: an entry another worker has just taken over (idle near 0) stays with it.
    await o.redis.xclaim(
      o.stream,
      OVERFLOW_GROUP,
      o.consumer,
      Math.floor(o.claimIdleMs / 2),
      ...old,
      'JUSTID',
    );
    for (const id of old) if (this.#held.has(id)) this.#held.set(id, now);
  }

  /** Check entries, answer the ones that cannot run, queue the frames of the rest and start model calls. */
  async #take(raws: RawEntry[]): Promise<void> {
    if (!raws.length) return;
    const o = this.#o;
    const takenAt = Date.now();
    for (const r of raws) this.#held.set(r.id, takenAt);
    await Promise.all(raws.map((r) => this.#prepare(parseEntry(r, o.model))));
    this.#dispatch();
  }

  async #prepare(p: ParsedEntry): Promise<void> {
    const o = this.#o;
    if (p.kind === 'malformed') return this.#malformed(p);
    const { req } = p;
    const now = Date.now();
    // Hub and worker clocks may differ a little: never a negative wait.
    const queuedMs = Math.max(0, now - p.at);
    if (p.deadline <= now) {
      o.counters.expired++;
      return this.#respond(
        p,
        inferredFailed(
          req.id,
          OFFLOAD_FAILURES.EXPIRED,
          `the budget of ${req.budgetMs} ms ran out ${Math.round(now - p.deadline)} ms before a worker took the request`,
          o.consumer,
          queuedMs,
        ),
      );
    }
    let frames: DecodedFrame[];
    try {
      frames = await Promise.all(req.frames.map((f) => toDecodedFrame(f, now)));
    } catch (err) {
      const reason = (err as Error).message;
      if (err instanceof FrameError) {
        return this.#malformed({
          kind: 'malformed',
          id: p.id,
          hub: p.hub,
          edge: p.edge,
          reqId: req.id,
          reason,
        });
      }
      o.counters.failed += req.frames.length;
      const message = `cannot prepare the frames: ${reason}`;
      return this.#respond(p, inferredFailed(req.id, OFFLOAD_FAILURES.FAILED, message, o.consumer, queuedMs));
    }
    this.#framesPerEntry = 0.8 * this.#framesPerEntry + 0.2 * frames.length;
    const job: Job = {
      entry: p,
      frames,
      results: [],
      remaining: frames.length,
      queuedMs,
      started: false,
      done: false,
    };
    o.counters.inFlight += frames.length;
    const key = decodeKey(req.decode);
    for (let index = 0; index < frames.length; index++) this.#queue.push({ job, index, key });
  }

  /** Ack a malformed entry, count it, and answer FAILED when it says where to. */
  async #malformed(p: MalformedEntry): Promise<void> {
    const o = this.#o;
    o.counters.malformed++;
    o.log.warn(
      { model: o.model.name, entry: p.id, hub: p.hub, edge: p.edge, reason: p.reason },
      'malformed overflow entry',
    );
    const answer =
      p.hub && p.edge
        ? inferredFailed(p.reqId ?? '', OFFLOAD_FAILURES.FAILED, `malformed request: ${p.reason}`, o.consumer)
        : undefined;
    return this.#respond(p, answer);
  }

  /** Start model calls while the backend has free slots. */
  #dispatch(): void {
    const { backend } = this.#o;
    while (this.#queue.length && backend.freeSlots > 0 && !backend.closed && !this.#failed) {
      const batch = this.#expireUnstarted(takeBatch(this.#queue, backend.maxBatch));
      if (!batch.length) continue;
      this.#call(batch);
    }
  }

  /** Answer EXPIRED for requests of `batch` none of whose frames has run and whose deadline has passed. */
  #expireUnstarted(batch: QueuedFrame<Job>[]): QueuedFrame<Job>[] {
    const now = Date.now();
    const expired = new Set<Job>();
    for (const f of batch) if (!f.job.started && f.job.entry.deadline <= now) expired.add(f.job);
    if (!expired.size) return batch;
    const keep = (f: QueuedFrame<Job>) => !expired.has(f.job);
    this.#queue.splice(0, this.#queue.length, ...this.#queue.filter(keep));
    for (const job of expired) {
      job.done = true;
      this.#o.counters.inFlight -= job.remaining;
      this.#o.counters.expired++;
      void this.#respond(
        job.entry,
        inferredFailed(
          job.entry.req.id,
          OFFLOAD_FAILURES.EXPIRED,
          `the budget of ${job.entry.req.budgetMs} ms ran out while the request waited for a model call`,
          this.#o.consumer,
          job.queuedMs,
        ),
      );
    }
    return batch.filter(keep);
  }

  #call(batch: QueuedFrame<Job>[]): void {
    const o = this.#o;
    const frames = batch.map((f) => {
      f.job.started = true;
      const frame = f.job.frames[f.index]!;
      f.job.frames[f.index] = undefined;
      return frame;
    });
    const decode = batch[0]!.job.entry.req.decode;
    if (this.#calls++ === 0) o.meter.busy(true);
    o.backend
      .infer(frames, {
        confidence: decode.confidence,
        iou: decode.iou,
        ...(decode.classes ? { classes: decode.classes } : {}),
      })
      .then(
        (results) => {
          if (results.length !== batch.length) {
            throw new Error(`the backend returned ${results.length} results for ${batch.length} frames`);
          }
          o.meter.record(batch.length);
          batch.forEach((f, i) => {
            f.job.results[f.index] = toOffloadResult(results[i]!);
          });
          return undefined;
        },
        (err: Error) => err,
      )
      .catch((err: Error) => err)
      .then((err) => {
        if (--this.#calls === 0) o.meter.busy(false);
        for (const f of batch) {
          if (err) f.job.error ??= err.message;
          if (--f.job.remaining === 0) this.#finish(f.job);
        }
        this.#dispatch();
        this.#wakeUp();
      });
  }

  #finish(job: Job): void {
    const o = this.#o;
    job.done = true;
    const n = job.frames.length;
    const { entry } = job;
    o.counters.inFlight -= n;
    const { queuedMs } = job;
    if (job.error) {
      o.counters.failed += n;
      o.log.warn(
        { model: o.model.name, entry: entry.id, edge: entry.edge, err: job.error },
        'overflow inference failed',
      );
      void this.#respond(
        entry,
        inferredFailed(
          entry.req.id,
          OFFLOAD_FAILURES.FAILED,
          `inference failed: ${job.error}`,
          o.consumer,
          queuedMs,
        ),
      );
      return;
    }
    o.counters.processed += n;
    void this.#respond(entry, inferredOk(entry.req.id, job.results, o.consumer, queuedMs));
  }

  /**
   * Add `answer` to the hub's results stream (capped, expiring) and ack the entry, in one transaction; with no
   * answer, only ack. An entry whose answer cannot be written stays pending: a worker takes it over later.
   */
  #respond(entry: { id: string; hub?: string; edge?: string }, answer: Inferred | undefined): Promise<void> {
    const o = this.#o;
    const tx = o.redis.multi();
    if (answer && entry.hub && entry.edge) {
      const key = o.resultsKey(entry.hub);
      tx.xadd(
        key,
        'MAXLEN',
        '~',
        o.maxStreamLength,
        '*',
        OVERFLOW_ENTRY_FIELDS.edge,
        entry.edge,
        OVERFLOW_ENTRY_FIELDS.answer,
        encodeAnswer(answer),
      );
      tx.pexpire(key, o.resultsTtlMs);
    }
    tx.xack(o.stream, OVERFLOW_GROUP, entry.id);
    const p = tx
      .exec()
      .then((replies) => {
        const failed = replies?.find(([err]) => err)?.[0];
        if (failed) throw failed;
      })
      .catch((err: Error) => {
        o.log.error(
          { model: o.model.name, entry: entry.id, err: err.message },
          'cannot answer an overflow entry',
        );
      })
      .finally(() => {
        this.#held.delete(entry.id);
        this.#answering.delete(p);
      });
    this.#answering.add(p);
    return p;
  }

  #fail(err: Error): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#o.log.error(
      { model: this.#o.model.name, err: err.message },
      'inference backend failed; not reading its stream',
    );
    // Frames no call holds yet fail now (the edges fall back to local inference rather than wait).
    for (const f of this.#queue.splice(0)) {
      f.job.error ??= err.message;
      if (--f.job.remaining === 0) this.#finish(f.job);
    }
    this.#wakeUp();
    this.#o.onFailed(err);
  }
}
