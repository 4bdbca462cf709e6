/**
 * Moves frames from the scheduler to the inference backend and results back through each stream's core: fills
 * every free slot with the batch the scheduler picks, hands results to the cores in decode order, runs the re-ID
 * waits they ask for, and publishes what they return. Counts the work in flight (for 'end' and close()).
 */
import {
  type ClassLabel,
  ClosedError,
  describeError,
  type FrameResult,
  type Logger,
  nowMs,
  SightlineError,
} from '@sightline/shared';
import type { DecodedFrame } from '../frame.ts';
import type { InferenceBackend } from '../inference/backend.ts';
import type { InferResult } from '../inference/protocol.ts';
import type { CropSource } from '../preprocess/crop.ts';
import { type PostStages, runStages, type StagePart } from '../stages/run-stages.ts';
import { FailureLog } from './failure-log.ts';
import { InFlight } from './in-flight.ts';
import type { LiveStream } from './live-stream.ts';
import { type DroppedFrame, droppedFrame, type FrameDropReason } from './runtime-events.ts';
import type { Scheduler } from './scheduler.ts';
import type { FrameSlot, StageOutcome, StreamOutput } from './stream-core.ts';

export interface DispatcherOptions {
  backend: InferenceBackend;
  scheduler: Scheduler;
  /** The stages after detection a core may wait for (re-ID, classify, segment; each unset when off). */
  stages: PostStages;
  /** The live stream of an id (undefined once removed). */
  stream(id: string): LiveStream | undefined;
  /** Whether the thumbnail stage considers the frame with this sequence number (its pixels are kept then). */
  wantsThumbnail(seq: number): boolean;
  /** Publish a tracked frame (see ResultFanout.publish). */
  publish(result: FrameResult, thumbPixels?: CropSource): void;
  /** A frame gets no result. */
  dropped(streamId: string, pts: number, reason: FrameDropReason, frame: DroppedFrame): void;
  /** The score detections are decoded down to (read per batch: applyConfig may change it). */
  confidence(): number;
  /** Work finished or frames were dropped: every stream may be done now. */
  settled(): void;
  log: Logger;
}

/** An overflow request that got no results (shed, hub or Redis down, late, worker failed). */
function isOffloadMiss(error: unknown): boolean {
  return error instanceof SightlineError && error.code.startsWith('OVERFLOW_');
}

/** A frame sent for inference and the slot it holds in its stream's core. */
interface Sent {
  s: LiveStream;
  slot: FrameSlot;
}

export class Dispatcher {
  readonly #o: DispatcherOptions;
  readonly #inflight = new InFlight();
  readonly #failures: Record<StagePart, FailureLog<string>>;
  #waitTimer?: NodeJS.Timeout;
  #stopped = false;

  constructor(options: DispatcherOptions) {
    this.#o = options;
    this.#failures = {
      reid: new FailureLog<string>(options.log, 're-ID failed; frames tracked without appearance'),
      classify: new FailureLog<string>(options.log, 'classification failed; frames published without labels'),
      segment: new FailureLog<string>(options.log, 'segmentation failed; frames published without it'),
    };
  }

  /** Inference calls and embedding waits in flight. */
  get inFlight(): number {
    return this.#inflight.count;
  }

  /** Fill every free inference slot with the next batch the scheduler picks. */
  pump(): void {
    const { backend, scheduler } = this.#o;
    if (this.#stopped) return;
    clearTimeout(this.#waitTimer);
    this.#waitTimer = undefined;
    let dropped = false;
    while (backend.freeSlots > 0) {
      const decision = scheduler.next(nowMs(), backend.batchLimit ?? backend.maxBatch);
      for (const f of decision.stale) {
        this.#o.stream(f.streamId)?.source.release();
        this.#o.dropped(f.streamId, f.pts, 'stale', droppedFrame(f));
      }
      if (decision.stale.length) dropped = true;
      if (decision.batch.length === 0) {
        if (decision.waitMs !== undefined) this.#waitTimer = setTimeout(() => this.pump(), decision.waitMs);
        break;
      }
      this.#dispatch(decision.batch);
    }
    // Stale drops can empty the queues of ended streams with nothing in flight: nothing else would emit 'end'.
    if (dropped) this.#o.settled();
  }

  /** Send nothing more (work in flight still completes and publishes). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#waitTimer);
  }

  /** Resolves true once nothing is in flight, or false after `timeoutMs` (default 5 s: close() goes on then). */
  idle(timeoutMs = 5000): Promise<boolean> {
    return this.#inflight.idle(timeoutMs);
  }

  /** Log the summary of stage failures (re-ID, classify, segment) not reported yet. */
  flushFailures(): void {
    for (const log of Object.values(this.#failures)) log.flush();
  }

  #dispatch(batch: DecodedFrame[]): void {
    const sent = batch.map((f): Sent => {
      const s = this.#o.stream(f.streamId)!;
      const thumb = this.#o.wantsThumbnail(f.seq);
      // The pixels go to the detector's worker; re-ID (once the tracker asks) and thumbnails cut their crops
      // from one copy.
      const pixels =
        s.core.wantsPixels || thumb
          ? {
              data: f.data.slice(),
              width: f.width,
              height: f.height,
              sourceWidth: f.sourceWidth,
              sourceHeight: f.sourceHeight,
            }
          : undefined;
      const slot = s.core.push(f, { ...(pixels ? { pixels } : {}), thumb });
      // Bound the frames dispatched but not yet tracked: behind a re-ID wait they would pile up (with their
      // pixel copies); the stream's next frames stay in its ring meanwhile, where staleness and overflow apply.
      if (s.core.held) this.#o.scheduler.hold(s.id, true);
      s.source.release();
      return { s, slot };
    });
    this.#inflight.add();
    this.#o.backend.infer(batch, { confidence: this.#o.confidence() }).then(
      (results) => this.#onResults(sent, results),
      (err) => this.#onResults(sent, undefined, err),
    );
  }

  #onResults(sent: Sent[], results: InferResult[] | undefined, error?: unknown): void {
    // Offloaded frames the hub shed or answered late are part of the overflow path's normal work: counted in its
    // metrics (sightline_edge_offload_*), not logged per batch nor shown as the stream's error.
    const offloadMiss = isOffloadMiss(error);
    if (error && !offloadMiss)
      this.#o.log.warn({ err: describeError(error), frames: sent.length }, 'inference failed');
    try {
      sent.forEach(({ s, slot }, i) => {
        const r = results?.[i];
        if (!r && !offloadMiss) {
          s.lastError = error
            ? `inference failed: ${describeError(error)}`
            : 'inference failed: the inference worker returned no result for this frame';
        }
        s.core.complete(slot, r);
      });
      for (const s of new Set(sent.map((x) => x.s))) this.#act(s, s.core.drain());
    } finally {
      // Done only now: an embedding started above is in flight before close() or 'end' can see none.
      this.#inflight.done();
    }
    this.pump();
    this.#o.settled();
  }

  /** Carry out what a stream's core returned: publish, report drops, run the stages after detection. */
  #act(s: LiveStream, outputs: StreamOutput[]): void {
    for (const o of outputs) {
      if (o.type === 'result') this.#o.publish(o.result, o.thumbPixels);
      else if (o.type === 'dropped') this.#o.dropped(s.id, o.pts, 'infer-failed', o.frame);
      else if (o.type === 'label') this.#label(s, o);
      else this.#stages(s, o);
    }
    // Let the scheduler send this stream's frames again once few enough are dispatched but untracked.
    if (!s.retired && !s.core.held) this.#o.scheduler.hold(s.id, false);
  }

  /** A frame waits for its stages (all at once); a stage that fails leaves its part out (the frame goes on). */
  #stages(s: LiveStream, o: Extract<StreamOutput, { type: 'stages' }>): void {
    this.#inflight.add();
    runStages(this.#o.stages, o.pixels, o.detections, o.work, (part, err) => {
      if (!(err instanceof ClosedError)) this.#failures[part].failed(s.id, err, { stream: s.id });
    }).then(
      (outcome) => this.#afterStages(s, outcome),
      () => this.#afterStages(s, undefined),
    );
  }

  /** Classify the crops of just-tracked tracks; the labels go to the stream's tracker when they come. */
  #label(s: LiveStream, o: Extract<StreamOutput, { type: 'label' }>): void {
    const classify = this.#o.stages.classify;
    if (!classify) return;
    this.#inflight.add();
    classify
      .crops(
        o.pixels,
        o.tracks,
        o.tracks.map(() => true),
      )
      .then(
        (labels) => {
          const byTrack = new Map<number, ClassLabel[]>();
          o.tracks.forEach((t, i) => {
            const l = labels[i];
            if (l) byTrack.set(t.trackId, l);
          });
          if (!s.retired) s.core.labelled(byTrack);
        },
        (err: unknown) => {
          if (!(err instanceof ClosedError)) this.#failures.classify.failed(s.id, err, { stream: s.id });
        },
      )
      .finally(() => {
        this.#inflight.done();
        this.#o.settled();
      });
  }

  #afterStages(s: LiveStream, outcome: StageOutcome | undefined): void {
    // Also while closing: close() waits for frames in flight and the sinks are still open.
    try {
      this.#act(s, s.core.staged(outcome));
    } catch (err) {
      this.#o.log.error({ stream: s.id, err: describeError(err) }, 'tracking failed');
    }
    this.#inflight.done();
    this.pump();
    this.#o.settled();
  }
}
