/** Frames per second a worker does (rate) and can do (capacity), from the frames it answers and its busy time. */

/** How far back capacity looks. */
const WINDOW_S = 60;

interface Bucket {
  frames: number;
  /** Time with at least one model call in flight. */
  busyMs: number;
}

export class ThroughputMeter {
  readonly #now: () => number;
  /** Per whole second (epoch s): frames answered and busy time. */
  readonly #buckets = new Map<number, Bucket>();
  #busyFrom: number | undefined;
  #periodStart: number;
  #periodFrames = 0;

  /** `now`: clock in ms. Default Date.now. */
  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.#periodStart = now();
  }

  #bucket(at: number): Bucket {
    const s = Math.floor(at / 1000);
    let b = this.#buckets.get(s);
    if (!b) {
      b = { frames: 0, busyMs: 0 };
      this.#buckets.set(s, b);
      for (const k of this.#buckets.keys()) if (k <= s - WINDOW_S) this.#buckets.delete(k);
    }
    return b;
  }

  /** `frames` frames were answered with results now. */
  record(frames: number): void {
    this.#bucket(this.#now()).frames += frames;
    this.#periodFrames += frames;
  }

  /** Whether model calls are in flight now (call at every change). */
  busy(active: boolean): void {
    const now = this.#now();
    if (active && this.#busyFrom === undefined) this.#busyFrom = now;
    else if (!active && this.#busyFrom !== undefined) {
      this.#bucket(now).busyMs += now - this.#busyFrom;
      this.#busyFrom = undefined;
    }
  }

  /** Frames per second since the previous call (the heartbeat period); starts the next period. */
  rate(): number {
    const now = this.#now();
    const elapsed = now - this.#periodStart;
    const fps = elapsed > 0 ? (this.#periodFrames * 1000) / elapsed : 0;
    this.#periodStart = now;
    this.#periodFrames = 0;
    return fps;
  }

  /**
   * Frames per second it can do: the larger of the best whole second of the last minute and the frames per busy
   * second (what it does while it has work, so an idle worker's capacity is not zero). 0 until it answered a frame.
   */
  capacity(): number {
    const now = this.#now();
    const current = Math.floor(now / 1000);
    let best = 0;
    let frames = 0;
    let busyMs = this.#busyFrom === undefined ? 0 : now - this.#busyFrom;
    for (const [s, b] of this.#buckets) {
      if (s <= current - WINDOW_S) continue;
      if (s < current) best = Math.max(best, b.frames);
      frames += b.frames;
      busyMs += b.busyMs;
    }
    const whileBusy = busyMs > 0 ? (frames * 1000) / busyMs : 0;
    return Math.max(best, whileBusy);
  }
}

/** Totals a worker publishes; lanes add to them. */
export interface WorkerCounters {
  /** Frames taken and not yet answered. */
  inFlight: number;
  /** Frames answered with results. */
  processed: number;
  /** Frames answered FAILED because inference failed. */
  failed: number;
  /** Entries refused as malformed (bad fields, msgpack, schema, model, frame bytes). */
  malformed: number;
  /** Entries answered EXPIRED. */
  expired: number;
}
