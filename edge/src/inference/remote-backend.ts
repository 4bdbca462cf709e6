/**
 * The remote half of the inference seam: frames go to the hub's overflow workers as `infer` requests over the
 * uplink, and come back as `inferred` answers. Each request carries the earliest deadline of its frames; an answer
 * after it is dropped and counted (the frames were already given up), a repeated answer is ignored, and after the
 * hub shed a request or could not take it nothing is sent for `backoffMs`, so the edge runs local-only meanwhile.
 */
import {
  ClosedError,
  type ExecutionProvider,
  type InferRequest,
  type Inferred,
  isErrorCode,
  OFFLOAD_FAILURES,
  type OffloadFrame,
  type OffloadResult,
  type OverflowConfig,
  SightlineError,
  TypedEmitter,
} from '@sightline/shared';
import sharp from 'sharp';
import type { DecodeOptions } from '../adapters/types.ts';
import type { DecodedFrame } from '../frame.ts';
import { planPlacement } from '../preprocess/geometry.ts';
import type { InferenceBackend, InferenceBackendEvents, InferenceBackendOptions } from './backend.ts';
import { inputGeometry } from './model-session.ts';
import type { EmbedResult, InferResult } from './protocol.ts';

/** How the remote backend reaches the hub (the uplink client). */
export interface OffloadTransport {
  /** Whether a request sent now reaches the hub (connected and welcomed). */
  readonly ready: boolean;
  /** Sends a request now, outside the outbox; false when it cannot (not connected). */
  sendInfer(request: InferRequest): boolean;
  /** Calls `listener` with every answer from the hub. */
  onInferred(listener: (answer: Inferred) => void): void;
  /** Calls `listener` whenever the link comes up or goes down. */
  onReadyChange?(listener: (ready: boolean) => void): void;
}

/** Counts of the overflow path since start. */
export interface OffloadStats {
  /** Requests sent, and the frames in them. */
  requests: number;
  frames: number;
  /** Requests answered with results in time, and their frames. */
  answered: number;
  answeredFrames: number;
  /** Requests the hub shed (no worker free, queue full) or could not take (no Redis). */
  shed: number;
  unavailable: number;
  /** Requests a worker failed or that expired in the hub's queue. */
  failed: number;
  /** Requests whose deadline passed before their answer (the answer, if any, is dropped). */
  late: number;
  /** Answers that came again after the first (a reclaimed entry done twice), ignored. */
  duplicates: number;
  /** Bytes of frame payload sent. */
  bytes: number;
}

export interface RemoteBackendOptions extends InferenceBackendOptions {
  transport: OffloadTransport;
  /** Encoding, in-flight and batch bounds, backoff. Default: OverflowConfig defaults. */
  overflow: OverflowConfig;
  /** Epoch ms after which a frame's result is useless (its capture time plus its stream's stalenessMs). */
  deadlineOf(frame: DecodedFrame): number;
  /** A request's round trip, in ms, when it was answered in time. */
  onRoundTrip?(ms: number, frames: number): void;
  /** Clock (epoch ms). Default Date.now. */
  now?: () => number;
}

interface Pending {
  resolve(results: InferResult[]): void;
  reject(err: Error): void;
  frames: readonly DecodedFrame[];
  sentAt: number;
  timer: NodeJS.Timeout;
}

/** Ids of requests given up remembered this long, so their answers count as late rather than unknown. */
const LATE_MEMORY = 4096;
let processCounter = 0;

export class RemoteBackend extends TypedEmitter<InferenceBackendEvents> implements InferenceBackend {
  readonly maxBatch: number;
  readonly inputSize: { width: number; height: number };
  readonly #o: RemoteBackendOptions;
  readonly #now: () => number;
  readonly #pending = new Map<string, Pending>();
  readonly #late = new Set<string>();
  readonly #prefix =
    `${process.pid.toString(36)}-${(++processCounter).toString(36)}-${Date.now().toString(36)}`;
  readonly #stats: OffloadStats = {
    requests: 0,
    frames: 0,
    answered: 0,
    answeredFrames: 0,
    shed: 0,
    unavailable: 0,
    failed: 0,
    late: 0,
    duplicates: 0,
    bytes: 0,
  };
  #next = 0;
  /**
   * Requests allowed in flight: grows by one per window of answers in time, halves on a late answer or a failure,
   * drops to one on a shed (additive increase, multiplicative decrease), between 1 and overflow.maxInFlight. So an
   * edge does not queue more at the workers than they finish within its budget.
   */
  #window = 1;
  /** Requests taken by infer() and still being encoded: they hold their slot already (the dispatcher fills every
   * free slot in one loop, before any encoding finishes). */
  #encoding = 0;
  #backoffUntil = 0;
  #backoffTimer?: NodeJS.Timeout;
  #closed = false;

  constructor(options: RemoteBackendOptions) {
    super();
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.maxBatch = options.overflow.maxBatch;
    const { width, height } = inputGeometry(options.model);
    this.inputSize = { width, height };
    options.transport.onInferred((answer) => this.#onAnswer(answer));
    options.transport.onReadyChange?.((ready) => {
      if (ready) this.#emitSlots();
    });
  }

  /** Where the model runs: on the hub's workers. */
  get provider(): ExecutionProvider | 'none' {
    return 'none';
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Requests that can be sent now: none while the link is down or in backoff after a shed. */
  get freeSlots(): number {
    if (this.#closed || !this.#o.transport.ready || this.#now() < this.#backoffUntil) return 0;
    return Math.max(0, Math.floor(this.#window) - this.#pending.size - this.#encoding);
  }

  stats(): OffloadStats {
    return { ...this.#stats };
  }

  async infer(frames: readonly DecodedFrame[], options: Partial<DecodeOptions> = {}): Promise<InferResult[]> {
    if (this.#closed) throw new ClosedError('the remote inference backend is closed');
    if (frames.length < 1 || frames.length > this.maxBatch) {
      throw new RangeError(`Expected 1..${this.maxBatch} frames for infer() but received ${frames.length}`);
    }
    const deadline = Math.min(...frames.map((f) => this.#o.deadlineOf(f)));
    // Frames whose budget is already spent are not worth the trip (the hub would only answer "expired").
    if (deadline <= this.#now()) {
      this.#stats.late++;
      throw new SightlineError(
        'OVERFLOW_LATE',
        'the frames were past their deadline before they could be sent',
      );
    }
    this.#encoding++;
    let wire: OffloadFrame[];
    try {
      wire = await Promise.all(frames.map((f) => this.#encode(f)));
    } finally {
      this.#encoding--;
    }
    const detector = this.#o.detector;
    const classes = options.classes ?? detector?.classes;
    const request: InferRequest = {
      t: 'infer',
      id: `${this.#prefix}-${(++this.#next).toString(36)}`,
      model: this.#o.model.id,
      modelSha256: this.#o.model.sha256,
      budgetMs: Math.max(0, Math.floor(deadline - this.#now())),
      decode: {
        confidence: options.confidence ?? detector?.confidence ?? 0.5,
        iou: options.iou ?? detector?.iou ?? 0.45,
        ...(classes ? { classes: [...classes] } : {}),
      },
      frames: wire,
    };
    return new Promise<InferResult[]>((resolve, reject) => {
      if (this.#closed) return reject(new ClosedError('the remote inference backend is closed'));
      const sentAt = this.#now();
      const timer = setTimeout(() => this.#giveUp(request.id), Math.max(0, deadline - sentAt));
      this.#pending.set(request.id, { resolve, reject, frames, sentAt, timer });
      this.#stats.requests++;
      this.#stats.frames += frames.length;
      for (const f of wire) this.#stats.bytes += f.data.length;
      if (!this.#o.transport.sendInfer(request)) {
        this.#finish(request.id);
        this.#stats.unavailable++;
        this.#backoff();
        reject(
          new SightlineError(OFFLOAD_FAILURES.UNAVAILABLE, 'the hub link is down: frames not offloaded'),
        );
      }
    });
  }

  /** Re-ID stays on the edge: the overflow path carries detector frames only. */
  embed(): Promise<EmbedResult> {
    return Promise.reject(new SightlineError('OVERFLOW_UNSUPPORTED', 'embeddings are not offloaded'));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#backoffTimer);
    for (const id of [...this.#pending.keys()]) {
      this.#finish(id)?.reject(new ClosedError('the remote inference backend closed'));
    }
  }

  async #encode(f: DecodedFrame): Promise<OffloadFrame> {
    const base = {
      streamId: f.streamId,
      seq: f.seq,
      width: f.width,
      height: f.height,
      sourceWidth: f.sourceWidth,
      sourceHeight: f.sourceHeight,
    };
    if (this.#o.overflow.encoding === 'raw') return { ...base, encoding: 'raw', data: f.data };
    const data = await sharp(f.data, { raw: { width: f.width, height: f.height, channels: 3 } })
      .jpeg({ quality: this.#o.overflow.jpegQuality, chromaSubsampling: '4:4:4' })
      .toBuffer();
    return { ...base, encoding: 'jpeg', data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  }

  #onAnswer(answer: Inferred): void {
    const p = this.#finish(answer.id);
    if (!p) {
      if (this.#late.has(answer.id)) return; // counted as late when its deadline passed
      this.#stats.duplicates++;
      return;
    }
    const results = answer.results;
    if (answer.ok && results?.length === p.frames.length) {
      this.#stats.answered++;
      this.#stats.answeredFrames += p.frames.length;
      this.#o.onRoundTrip?.(this.#now() - p.sentAt, p.frames.length);
      this.#window = Math.min(this.#o.overflow.maxInFlight, this.#window + 1 / this.#window);
      p.resolve(results.map((r, i) => this.#toInferResult(r, p.frames[i]!)));
      return;
    }
    const said = answer.error?.code;
    const code = isErrorCode(said) && said.startsWith('OVERFLOW_') ? said : OFFLOAD_FAILURES.FAILED;
    const message = answer.ok
      ? `the worker answered ${results?.length ?? 0} results for ${p.frames.length} frames`
      : (answer.error?.message ?? 'the worker failed');
    if (code === OFFLOAD_FAILURES.SHED) this.#stats.shed++;
    else if (code === OFFLOAD_FAILURES.UNAVAILABLE) this.#stats.unavailable++;
    else this.#stats.failed++;
    // Shed, expired in the hub's queue, or no Redis: the workers cannot take more now; stay local for a while.
    if (
      code === OFFLOAD_FAILURES.SHED ||
      code === OFFLOAD_FAILURES.UNAVAILABLE ||
      code === OFFLOAD_FAILURES.EXPIRED
    )
      this.#backoff();
    // A shed says the workers are full or gone: start again from one request after the backoff, not a burst.
    if (code === OFFLOAD_FAILURES.SHED) this.#window = 1;
    else if (code !== OFFLOAD_FAILURES.UNAVAILABLE) this.#shrink();
    p.reject(new SightlineError(code, message));
  }

  /** The deadline passed: the frames are given up; an answer arriving later is dropped. */
  #giveUp(id: string): void {
    const p = this.#finish(id);
    if (!p) return;
    this.#stats.late++;
    this.#shrink();
    this.#late.add(id);
    if (this.#late.size > LATE_MEMORY) this.#late.delete(this.#late.values().next().value!);
    p.reject(new SightlineError('OVERFLOW_LATE', 'no answer from the overflow workers before the deadline'));
  }

  #finish(id: string): Pending | undefined {
    const p = this.#pending.get(id);
    if (!p) return undefined;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    queueMicrotask(() => this.#emitSlots());
    return p;
  }

  #shrink(): void {
    this.#window = Math.max(1, this.#window / 2);
  }

  #backoff(): void {
    const ms = this.#o.overflow.backoffMs;
    this.#backoffUntil = this.#now() + ms;
    clearTimeout(this.#backoffTimer);
    this.#backoffTimer = setTimeout(() => this.#emitSlots(), ms);
    this.#backoffTimer.unref?.();
  }

  #emitSlots(): void {
    const free = this.freeSlots;
    if (free > 0) this.emit('slot', free);
  }

  #toInferResult(r: OffloadResult, f: DecodedFrame): InferResult {
    const { width, height } = this.inputSize;
    const placement = planPlacement(this.#o.model.preprocess, f.sourceWidth, f.sourceHeight, width, height);
    return {
      detections: r.detections,
      geometry: {
        scaleX: placement.scaleX,
        scaleY: placement.scaleY,
        offsetX: placement.offsetX,
        offsetY: placement.offsetY,
        sourceWidth: placement.sourceWidth,
        sourceHeight: placement.sourceHeight,
        inputWidth: placement.inputWidth,
        inputHeight: placement.inputHeight,
      },
      preprocessMs: r.preprocessMs,
      inferMs: r.inferMs,
      postprocessMs: r.postprocessMs,
      batchSize: r.batchSize,
      session: -1,
    };
  }
}
