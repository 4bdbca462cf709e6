/**
 * Holds each frame's compressed packets until the frame's outcome is known (its result, a drop, or a timeout), then
 * releases frames strictly in decode order. Pure: the publisher feeds it and sends what it releases.
 */
import { type FrameResult, nowMs } from '@sightline/shared';
import type { EncodedPacket } from '../frame.ts';

/** How a held frame left. */
export type HoldOutcome =
  | { kind: 'result'; result: FrameResult }
  /** Dropped before inference (overflow, stale) or inference failed; `frame` says what the runtime knew of it. */
  | {
      kind: 'dropped';
      reason: string;
      frame?: { seq: number; width: number; height: number; capturedAt: number };
    }
  /** No outcome within holdMs, or a later frame's result arrived first (this one was never decoded). */
  | { kind: 'timeout' }
  /** Pushed out because maxFrames were held. */
  | { kind: 'overflow' };

/** One frame's packets (normally one) and when the first arrived. */
export interface HeldFrame {
  pts: number;
  packets: EncodedPacket[];
  /** performance.now() when its first packet arrived. */
  arrivedAt: number;
  /** Epoch ms (nowMs) when its first packet arrived. */
  arrivedWall: number;
  outcome?: HoldOutcome;
}

export interface FrameHoldOptions {
  /** Longest a frame waits for its outcome (ms). Default 500. */
  holdMs?: number;
  /** Most frames held; beyond, the oldest leaves with outcome 'overflow'. Default 60. */
  maxFrames?: number;
  /** Gets each frame as it leaves, in decode order. */
  onRelease: (frame: HeldFrame, outcome: HoldOutcome) => void;
  /** Clock in ms (performance.now by default); for tests. */
  now?: () => number;
}

/** Counters of a FrameHold. */
export interface FrameHoldStats {
  held: number;
  released: number;
  /** Released with a result / dropped / timed out / pushed out by the bound. */
  withResult: number;
  dropped: number;
  timedOut: number;
  overflow: number;
  /** Results and drops for a pts no held frame has (its packets never came, or left already). */
  unmatched: number;
}

/** Per-stream queue of frames waiting for their outcome. */
export class FrameHold {
  readonly holdMs: number;
  readonly maxFrames: number;
  readonly #onRelease: FrameHoldOptions['onRelease'];
  readonly #now: () => number;
  #frames: HeldFrame[] = [];
  #stats = { released: 0, withResult: 0, dropped: 0, timedOut: 0, overflow: 0, unmatched: 0 };

  constructor(options: FrameHoldOptions) {
    this.holdMs = options.holdMs ?? 500;
    this.maxFrames = options.maxFrames ?? 60;
    if (!(this.holdMs >= 0)) throw new RangeError(`Expected holdMs >= 0, got ${this.holdMs}`);
    if (!Number.isInteger(this.maxFrames) || this.maxFrames < 1) {
      throw new RangeError(`Expected a positive integer for maxFrames, got ${this.maxFrames}`);
    }
    this.#onRelease = options.onRelease;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Frames held now. */
  get size(): number {
    return this.#frames.length;
  }

  /** ms until the oldest held frame times out (undefined when none is held). */
  nextDeadline(): number | undefined {
    const head = this.#frames[0];
    return head ? Math.max(0, head.arrivedAt + this.holdMs - this.#now()) : undefined;
  }

  /** Hold one packet; packets with the pts of the newest held frame join it. */
  addPacket(packet: EncodedPacket): void {
    const last = this.#frames[this.#frames.length - 1];
    if (last && last.pts === packet.pts && !last.outcome) {
      last.packets.push(packet);
      return;
    }
    this.#frames.push({ pts: packet.pts, packets: [packet], arrivedAt: this.#now(), arrivedWall: nowMs() });
    while (this.#frames.length > this.maxFrames) this.#release(this.#frames.shift()!, { kind: 'overflow' });
    this.flush();
  }

  /** The frame at `pts` has its result. Earlier frames still waiting will get none (results come in decode order). */
  result(result: FrameResult): void {
    this.#settle(result.pts, { kind: 'result', result });
  }

  /** The frame at `pts` was dropped before inference or its inference failed. */
  dropped(pts: number, reason: string, frame?: Extract<HoldOutcome, { kind: 'dropped' }>['frame']): void {
    this.#settle(pts, { kind: 'dropped', reason, ...(frame ? { frame } : {}) });
  }

  /** Release every frame at the head that has its outcome or has waited holdMs. Call on a timer. */
  flush(): void {
    const now = this.#now();
    while (this.#frames.length) {
      const head = this.#frames[0]!;
      if (!head.outcome && now - head.arrivedAt < this.holdMs) break;
      this.#frames.shift();
      this.#release(head, head.outcome ?? { kind: 'timeout' });
    }
  }

  /** Release everything held now (e.g. on close), waiting frames as timed out. */
  drain(): void {
    for (const f of this.#frames.splice(0)) this.#release(f, f.outcome ?? { kind: 'timeout' });
  }

  /** Forget everything held without releasing it. */
  clear(): void {
    this.#frames = [];
  }

  stats(): FrameHoldStats {
    return { held: this.#frames.length, ...this.#stats };
  }

  #settle(pts: number, outcome: HoldOutcome): void {
    const i = this.#frames.findIndex((f) => f.pts === pts && !f.outcome);
    if (i < 0) {
      this.#stats.unmatched++;
      return;
    }
    // Results come in decode order: a frame before this one still waiting was never decoded. Drops do not: a frame
    // goes stale in the ring while older ones are still being inferred, and those will get their results.
    if (outcome.kind === 'result')
      for (let k = 0; k < i; k++) this.#frames[k]!.outcome ??= { kind: 'timeout' };
    this.#frames[i]!.outcome = outcome;
    this.flush();
  }

  #release(frame: HeldFrame, outcome: HoldOutcome): void {
    this.#stats.released++;
    if (outcome.kind === 'result') this.#stats.withResult++;
    else if (outcome.kind === 'dropped') this.#stats.dropped++;
    else if (outcome.kind === 'timeout') this.#stats.timedOut++;
    else this.#stats.overflow++;
    this.#onRelease(frame, outcome);
  }
}
