/**
 * Chooses which frames go to inference next: fair round-robin across streams, batches by size or wait
 * budget, stale frames dropped against each stream's budget. Synchronous core; the runtime drives it.
 */
import type { DecodedFrame } from '../frame.ts';
import { FrameRing } from './frame-ring.ts';

export interface SchedulerOptions {
  /** Most frames in one batch. Default 16. */
  maxBatch?: number;
  /** Longest the oldest waiting frame is held to fill a batch, in ms. Default 5. */
  maxWaitMs?: number;
}

export interface StreamQueueOptions {
  /** Frames held for this stream; the oldest is dropped when full. Default 30. */
  capacity?: number;
  /** A frame older than this (ms since capture) when its turn comes is dropped. Default 1000. */
  stalenessMs?: number;
}

/** What `next()` decided: a batch to send now (possibly empty), frames dropped as stale, and how long to wait otherwise. */
export interface ScheduleDecision {
  batch: DecodedFrame[];
  stale: DecodedFrame[];
  /** When no batch is ready but frames wait: ms until the wait budget expires. Undefined when idle. */
  waitMs?: number;
}

interface StreamQueue {
  id: string;
  ring: FrameRing;
  stalenessMs: number;
  droppedStale: number;
}

export class Scheduler {
  readonly maxBatch: number;
  #maxWaitMs: number;
  #streams: StreamQueue[] = [];
  #byId = new Map<string, StreamQueue>();
  #cursor = 0;
  /** Streams whose frames stay queued for now (their consumer is behind); they still age and drop as stale. */
  readonly #held = new Set<string>();

  constructor(options: SchedulerOptions = {}) {
    this.maxBatch = options.maxBatch ?? 16;
    if (!Number.isInteger(this.maxBatch) || this.maxBatch < 1) {
      throw new RangeError(`Expected a positive integer for maxBatch but received ${this.maxBatch}`);
    }
    this.#maxWaitMs = 5;
    this.maxWaitMs = options.maxWaitMs ?? 5;
  }

  /** Longest the oldest waiting frame is held to fill a batch, in ms; may be changed while running. */
  get maxWaitMs(): number {
    return this.#maxWaitMs;
  }
  set maxWaitMs(ms: number) {
    if (!(ms >= 0)) throw new RangeError(`Expected a non-negative number for maxWaitMs but received ${ms}`);
    this.#maxWaitMs = ms;
  }

  addStream(id: string, options: StreamQueueOptions = {}): void {
    if (this.#byId.has(id)) throw new TypeError(`stream ${id} is already scheduled`);
    const q: StreamQueue = {
      id,
      ring: new FrameRing(options.capacity ?? 30),
      stalenessMs: options.stalenessMs ?? 1000,
      droppedStale: 0,
    };
    this.#streams.push(q);
    this.#byId.set(id, q);
  }

  /** Stop scheduling a stream; returns the frames it still held. */
  removeStream(id: string): DecodedFrame[] {
    const q = this.#byId.get(id);
    if (!q) return [];
    this.#byId.delete(id);
    this.#held.delete(id);
    const i = this.#streams.indexOf(q);
    this.#streams.splice(i, 1);
    if (this.#cursor > i) this.#cursor--;
    if (this.#cursor >= this.#streams.length) this.#cursor = 0;
    return q.ring.drain();
  }

  /** Hold a stream's queued frames back from batches (`on`), or let them go again. Staleness still applies. */
  hold(id: string, on: boolean): void {
    if (on) this.#held.add(id);
    else this.#held.delete(id);
  }

  /** Queue a decoded frame; returns a frame dropped because the stream's ring was full. */
  push(frame: DecodedFrame): DecodedFrame | undefined {
    const q = this.#byId.get(frame.streamId);
    if (!q) throw new TypeError(`frame for unknown stream ${frame.streamId}`);
    return q.ring.push(frame);
  }

  /** Frames waiting across all streams. */
  get pending(): number {
    let n = 0;
    for (const q of this.#streams) n += q.ring.size;
    return n;
  }

  /** Counters for one stream. */
  counters(id: string): { queued: number; droppedOverflow: number; droppedStale: number } {
    const q = this.#byId.get(id);
    if (!q) return { queued: 0, droppedOverflow: 0, droppedStale: 0 };
    return { queued: q.ring.size, droppedOverflow: q.ring.dropped, droppedStale: q.droppedStale };
  }

  /**
   * Decide what to send at time `now` (ms, same clock as frame.capturedAt). Streams are visited
   * round-robin, one frame per visit, so a busy stream cannot starve a quiet one; a partial batch
   * waits at most maxWaitMs for more frames, and a stream with nothing queued is never waited for.
   */
  next(now: number, limit = this.maxBatch): ScheduleDecision {
    const stale = this.#dropStale(now);
    let pending = 0;
    for (const q of this.#streams) if (!this.#held.has(q.id)) pending += q.ring.size;
    if (pending === 0) return { batch: [], stale };
    const want = Math.min(limit, this.maxBatch);
    if (pending < want && this.maxWaitMs > 0) {
      const waited = now - this.#oldestQueuedAt();
      if (waited < this.maxWaitMs) return { batch: [], stale, waitMs: this.maxWaitMs - waited };
    }
    const batch: DecodedFrame[] = [];
    let idle = 0;
    while (batch.length < want && idle < this.#streams.length) {
      const q = this.#streams[this.#cursor]!;
      this.#cursor = (this.#cursor + 1) % this.#streams.length;
      const frame = this.#held.has(q.id) ? undefined : q.ring.shift();
      if (frame) {
        batch.push(frame);
        idle = 0;
      } else {
        idle++;
      }
    }
    return { batch, stale };
  }

  #dropStale(now: number): DecodedFrame[] {
    const out: DecodedFrame[] = [];
    for (const q of this.#streams) {
      for (let f = q.ring.peek(); f && now - f.capturedAt > q.stalenessMs; f = q.ring.peek()) {
        out.push(q.ring.shift()!);
        q.droppedStale++;
      }
    }
    return out;
  }

  #oldestQueuedAt(): number {
    let oldest = Number.POSITIVE_INFINITY;
    for (const q of this.#streams) {
      if (this.#held.has(q.id)) continue;
      const f = q.ring.peek();
      if (f && f.capturedAt < oldest) oldest = f.capturedAt;
    }
    return oldest;
  }
}
