/**
 * The per-stream core of the pipeline, pure and synchronous: frames dispatched in decode order wait in a reorder
 * buffer for their inference results, a frame that needs the stages after detection (embeddings the tracker wants,
 * classification, segmentation) waits for them (and holds the frames behind it), then each frame is tracked and
 * timed. No workers, sources or sinks: the runtime feeds it (push, complete, staged) and acts on what it returns
 * (results to publish, frames dropped, stage work to do).
 */
import { type ClassLabel, type Detection, type FrameResult, nowMs, type Track } from '@sightline/shared';
import type { CropSource } from '../preprocess/crop.ts';
import type { LabelWorkOf, StageOutcome, StageWork, StageWorkOf } from '../stages/stage-work.ts';
import type { Appearance, Tracker } from '../tracking/tracker.ts';
import { type DroppedFrame, droppedFrame } from './runtime-events.ts';
import { StreamMeter } from './stream-meter.ts';

export type { LabelWorkOf, StageOutcome, StageWork, StageWorkOf } from '../stages/stage-work.ts';

/** What the core needs of a decoded frame (a DecodedFrame fits). */
export interface CoreFrame {
  seq: number;
  pts: number;
  /** Source frame size in pixels. */
  sourceWidth: number;
  sourceHeight: number;
  /** Wall-clock ms when the decoder produced the frame. */
  capturedAt: number;
  decodeMs: number;
}

/** One frame's inference output (an InferResult fits). */
export interface CoreInference {
  detections: Detection[];
  preprocessMs: number;
  inferMs: number;
  postprocessMs: number;
}

/** A dispatched frame in the reorder buffer; pass it back to complete(). */
export interface FrameSlot {
  readonly seq: number;
  readonly pts: number;
}

/** What the runtime does next, in this order. */
export type StreamOutput =
  /** Publish this tracked frame (to sinks, listeners and, with `thumbPixels`, the thumbnail stage). */
  | { type: 'result'; result: FrameResult; thumbPixels?: CropSource }
  /** This frame's inference failed: it gets no result ('frame-dropped' with reason 'infer-failed'). */
  | { type: 'dropped'; pts: number; frame: DroppedFrame }
  /**
   * Do `work` on this frame (`pixels`, its `detections`), then call staged() with what came of it (undefined when
   * it all failed). Always the last output: the frames behind this one wait.
   */
  | { type: 'stages'; detections: readonly Detection[]; pixels: CropSource; work: StageWork }
  /**
   * Classify the crops of these tracks (just tracked, on `pixels`) and hand the labels to labelled(); nothing
   * waits for it. Follows the frame's 'result'.
   */
  | { type: 'label'; tracks: readonly Track[]; pixels: CropSource };

export interface StreamCoreOptions {
  streamId: string;
  tracker: Tracker;
  /**
   * Which detections can get an embedding, of those the tracker wants (ReidStage.eligible). Unset: re-ID is off
   * and no frame waits.
   */
  reidEligible?: (detections: readonly Detection[], wanted: readonly boolean[]) => boolean[];
  /** The whole-frame classify and segment work each frame needs. Unset: those stages are off for this stream. */
  stageWork?: StageWorkOf;
  /** Which tracks of each tracked frame get their crops classified (not waited for). Unset: none. */
  labelWork?: LabelWorkOf;
  /** Frames dispatched but not yet tracked from which `held` is true. Default Infinity. */
  maxUntracked?: number;
  /** The score a detection needs to be published (read per frame: it may change live). Default 0 (all). */
  minScore?: () => number;
  /** Clock in ms. Default nowMs. */
  now?: () => number;
  /** The core of the stream this one replaces after a stop / start: its counters and meter carry on. */
  carry?: StreamCore;
}

interface Slot extends FrameSlot {
  frame: DroppedFrame;
  decodeMs: number;
  queueMs: number;
  /** The result once back; null when inference failed. */
  done?: FrameResult | null;
  pixels?: CropSource;
  /** The thumbnail stage considers this frame (its pixels are kept for it). */
  thumb?: boolean;
}

export class StreamCore {
  readonly streamId: string;
  /** Rate and latency of the frames tracked. */
  readonly meter: StreamMeter;
  /** Frames tracked (and published). */
  framesInferred: number;
  /** Frames whose inference failed. */
  inferErrors: number;
  /** Tracks in the latest tracked frame. */
  activeTracks = 0;
  #tracker: Tracker;
  readonly #reidEligible: StreamCoreOptions['reidEligible'];
  readonly #stageWork: StageWorkOf | undefined;
  readonly #labelWork: LabelWorkOf | undefined;
  readonly #maxUntracked: number;
  readonly #minScore: () => number;
  readonly #now: () => number;
  /** Dispatched frames in decode order, waiting for their results so the tracker sees them in order. */
  #slots: Slot[] = [];
  /** The frame waiting for its stages (the frames behind it wait too). */
  #staging?: {
    result: FrameResult;
    t0: number;
    embed: boolean;
    pixels: CropSource;
    thumbPixels?: CropSource;
  };
  #retired = false;

  constructor(options: StreamCoreOptions) {
    this.streamId = options.streamId;
    this.#tracker = options.tracker;
    this.#reidEligible = options.reidEligible;
    this.#stageWork = options.stageWork;
    this.#labelWork = options.labelWork;
    this.#maxUntracked = options.maxUntracked ?? Number.POSITIVE_INFINITY;
    this.#minScore = options.minScore ?? (() => 0);
    this.#now = options.now ?? nowMs;
    this.meter = options.carry?.meter ?? new StreamMeter();
    this.framesInferred = options.carry?.framesInferred ?? 0;
    this.inferErrors = options.carry?.inferErrors ?? 0;
  }

  get tracker(): Tracker {
    return this.#tracker;
  }

  /** Replace the tracker (a tracker config changed): track ids restart. */
  set tracker(tracker: Tracker) {
    this.#tracker = tracker;
    this.activeTracks = 0;
  }

  /** Whether a dispatched frame's pixels may be needed by the stages (re-ID, classify, segment): pass them to push() then. */
  get wantsPixels(): boolean {
    return (
      this.#stageWork !== undefined ||
      this.#labelWork !== undefined ||
      (this.#reidEligible !== undefined && this.#tracker.appearanceWanted !== undefined)
    );
  }

  /** Frames dispatched but not yet tracked (or dropped). */
  get untracked(): number {
    return this.#slots.length;
  }

  /** Enough frames are dispatched but untracked: send no more of this stream until this turns false. */
  get held(): boolean {
    return this.#slots.length >= this.#maxUntracked;
  }

  /** A frame waits for its stages. */
  get waiting(): boolean {
    return this.#staging !== undefined;
  }

  get retired(): boolean {
    return this.#retired;
  }

  /**
   * A frame was dispatched for inference (in decode order). `pixels`: a copy of its pixels, for re-ID and
   * thumbnails; `thumb`: the thumbnail stage considers this frame.
   */
  push(frame: CoreFrame, extras: { pixels?: CropSource; thumb?: boolean } = {}): FrameSlot {
    const slot: Slot = {
      seq: frame.seq,
      pts: frame.pts,
      frame: droppedFrame(frame),
      decodeMs: frame.decodeMs,
      queueMs: this.#now() - frame.capturedAt,
      ...(extras.pixels ? { pixels: extras.pixels } : {}),
      ...(extras.thumb ? { thumb: true } : {}),
    };
    if (!this.#retired) this.#slots.push(slot);
    return slot;
  }

  /** The inference result of a dispatched frame (undefined: its inference failed). Call drain() next. */
  complete(frameSlot: FrameSlot, inference: CoreInference | undefined): void {
    const slot = frameSlot as Slot;
    if (!inference) {
      this.inferErrors++;
      slot.done = null;
      return;
    }
    slot.done = {
      streamId: this.streamId,
      seq: slot.seq,
      pts: slot.pts,
      width: slot.frame.width,
      height: slot.frame.height,
      capturedAt: slot.frame.capturedAt,
      detections: inference.detections,
      tracks: [],
      timings: {
        decodeMs: slot.decodeMs,
        queueMs: slot.queueMs,
        preprocessMs: inference.preprocessMs,
        inferMs: inference.inferMs,
        postprocessMs: inference.postprocessMs,
      },
    };
  }

  /**
   * Hand the results back so far to the tracker strictly in decode order, even when they came back out of order;
   * stop at a frame still in flight, or at one that needs its stages (a 'stages' output, last).
   */
  drain(): StreamOutput[] {
    const out: StreamOutput[] = [];
    if (this.#retired) return out;
    while (!this.#staging && this.#slots.length && this.#slots[0]!.done !== undefined) {
      const slot = this.#slots.shift()!;
      const result = slot.done;
      if (!result) {
        out.push({ type: 'dropped', pts: slot.pts, frame: slot.frame });
        continue;
      }
      const thumbPixels = slot.thumb ? slot.pixels : undefined;
      const work = slot.pixels ? this.#work(slot, result) : undefined;
      if (!work || !slot.pixels) {
        out.push(...this.#track(result, undefined, slot.pixels, thumbPixels));
        continue;
      }
      this.#staging = {
        result,
        t0: this.#now(),
        embed: work.embed !== undefined,
        pixels: slot.pixels,
        ...(thumbPixels ? { thumbPixels } : {}),
      };
      out.push({ type: 'stages', detections: result.detections, pixels: slot.pixels, work });
      break;
    }
    return out;
  }

  /**
   * What the stages of the last 'stages' output gave (undefined when they all failed: the frame is tracked
   * without); then drains the frames behind it. A retired stream publishes nothing more.
   */
  staged(outcome: StageOutcome | undefined): StreamOutput[] {
    const waiting = this.#staging;
    if (!waiting)
      throw new TypeError(`Expected a frame of stream ${this.streamId} waiting for its stages but none is`);
    this.#staging = undefined;
    const { result } = waiting;
    const ms = this.#now() - waiting.t0;
    result.timings.stagesMs = ms;
    if (waiting.embed) result.timings.embedMs = ms;
    if (this.#retired) return [];
    if (outcome?.frame) result.classification = outcome.frame;
    if (outcome?.segmentation) result.segmentation = outcome.segmentation;
    return [
      ...this.#track(result, outcome?.appearance, waiting.pixels, waiting.thumbPixels),
      ...this.drain(),
    ];
  }

  /** The labels a 'label' output asked for, per track id: the tracker reports them from its next frame on. */
  labelled(labels: ReadonlyMap<number, ClassLabel[]>): void {
    if (this.#retired) return;
    for (const [trackId, classes] of labels) this.#tracker.label?.(trackId, classes);
  }

  /** Take the stream out of service: frames dispatched or waiting publish nothing (their results are ignored). */
  retire(): void {
    this.#retired = true;
    this.#slots = [];
  }

  /** The stage work of a frame: embeddings the tracker wants and the stream's classify / segment work; undefined for none. */
  #work(slot: Slot, result: FrameResult): StageWork | undefined {
    const embed = this.#eligible(slot, result);
    const extra = this.#stageWork?.(result);
    const work: StageWork = {
      ...(embed ? { embed } : {}),
      ...(extra?.classifyFrame ? { classifyFrame: true } : {}),
      ...(extra?.segment ? { segment: true } : {}),
    };
    return Object.keys(work).length ? work : undefined;
  }

  /** Which detections get embeddings: undefined when none (re-ID off, no pixels, none wanted or eligible). */
  #eligible(slot: Slot, result: FrameResult): boolean[] | undefined {
    if (!this.#reidEligible || !slot.pixels) return undefined;
    const wanted = this.#tracker.appearanceWanted?.(result.detections);
    const eligible = wanted ? this.#reidEligible(result.detections, wanted) : undefined;
    return eligible?.includes(true) ? eligible : undefined;
  }

  /**
   * Track one frame's detections, keep only those at or above minScore, time it and count it; then, when the label
   * plan picks some of its tracks and the frame's pixels are here, a 'label' output for them.
   */
  #track(
    result: FrameResult,
    appearance?: Appearance,
    pixels?: CropSource,
    thumbPixels?: CropSource,
  ): StreamOutput[] {
    const t0 = this.#now();
    result.tracks = this.#tracker.update(result.detections, appearance);
    const minScore = this.#minScore();
    if (result.detections.some((d) => d.score < minScore)) {
      result.detections = result.detections.filter((d) => d.score >= minScore);
    }
    const done = this.#now();
    result.timings.trackMs = done - t0;
    result.timings.totalMs = done - result.capturedAt;
    this.activeTracks = result.tracks.length;
    this.framesInferred++;
    this.meter.record(done, result.timings.totalMs);
    const out: StreamOutput[] = [
      thumbPixels ? { type: 'result', result, thumbPixels } : { type: 'result', result },
    ];
    const label = pixels ? this.#labelWork?.(result) : undefined;
    if (pixels && label?.includes(true)) {
      out.push({ type: 'label', tracks: result.tracks.filter((_, i) => label[i]), pixels });
    }
    return out;
  }
}
