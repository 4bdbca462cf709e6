/**
 * The edge runtime: sources -> frame rings -> scheduler -> inference pool -> per-stream reorder ->
 * tracker -> sinks. Runs on the main thread and only moves frames and messages; decoding and
 * inference run in worker threads.
 */
import { hostname } from 'node:os';
import {
  ClosedError,
  childLogger,
  describeError,
  type EdgeConfig,
  type FrameResult,
  nowMs,
  type StreamConfig,
  type StreamStats,
  TypedEmitter,
} from '@sightline/shared';
import type { DecodedFrame } from '../frame.ts';
import { InferencePool, type InferResult } from '../inference/inference-pool.ts';
import { type LoadedModel, loadModel } from '../models/load.ts';
import type { CropSource } from '../preprocess/crop.ts';
import { ReidStage, type ReidStats } from '../reid/reid-stage.ts';
import { createSink, type Sink } from '../sinks/sink.ts';
import { StreamSource } from '../sources/stream-source.ts';
import { type Appearance, createTracker, type Tracker } from '../tracking/tracker.ts';
import { VERSION } from '../version.ts';
import { FailureLog } from './failure-log.ts';
import { HubReporter } from './hub-reporter.ts';
import { Scheduler } from './scheduler.ts';
import { StreamMeter } from './stream-meter.ts';

export type EdgeRuntimeEvents = {
  /** One processed frame, in order per stream. */
  result: [FrameResult];
  /** A stream changed state (starting, running, reconnecting, ended, failed). */
  'stream-state': [streamId: string, state: StreamStats['state'], error?: string];
  /** Every source has ended and every frame in flight is done. */
  end: [];
};

interface StreamRuntime {
  config: StreamConfig & { id: string };
  source: StreamSource;
  tracker: Tracker;
  meter: StreamMeter;
  state: StreamStats['state'];
  framesDecoded: number;
  framesInferred: number;
  inferErrors: number;
  reconnects: number;
  activeTracks: number;
  lastError?: string;
  /** Dispatched frames in decode order, waiting for their results so the tracker sees them in order. */
  inOrder: InOrderSlot[];
  /** A frame of this stream waits for its embeddings; the frames behind it wait too. */
  embedding: boolean;
}

/** One dispatched frame: its result once back (null when inference failed), and its pixels when re-ID needs them. */
interface InOrderSlot {
  seq: number;
  done?: FrameResult | null;
  pixels?: CropSource;
}

/** What the runtime keeps about a dispatched frame until its result comes back. */
interface FrameMeta {
  s: StreamRuntime;
  slot: InOrderSlot;
  seq: number;
  pts: number;
  width: number;
  height: number;
  capturedAt: number;
  decodeMs: number;
  queueMs: number;
}

/** Score down to which detections are decoded: the detector's confidence, or the tracker's lowest score when lower. */
export function decodeThreshold(config: EdgeConfig): number {
  const t = config.tracker;
  const low = t.type === 'bytetrack' ? t.lowThreshold : t.minScore;
  return Math.min(config.detector.confidence, low);
}

/** Whether the edge computes re-ID embeddings: with the deepsort tracker, unless reid.enabled is false. */
export function reidEnabled(config: EdgeConfig): boolean {
  return config.tracker.type === 'deepsort' && (config.reid?.enabled ?? true);
}

export class EdgeRuntime extends TypedEmitter<EdgeRuntimeEvents> {
  readonly config: EdgeConfig;
  readonly edgeId: string;
  #log = childLogger('edge');
  /** A sink that throws on every frame logs once, then a summary at most every 10 s. */
  #sinkFailures = new FailureLog<Sink>(this.#log, 'sink write failed');
  #model?: LoadedModel;
  #pool?: InferencePool;
  #reid?: ReidStage;
  /** Most frames of one stream dispatched but not yet tracked before its queue is held (set in start()). */
  #maxUntracked = Number.POSITIVE_INFINITY;
  #reidFailures = new FailureLog<string>(this.#log, 're-ID failed; frames tracked without appearance');
  #scheduler?: Scheduler;
  #streams = new Map<string, StreamRuntime>();
  #sinks: Sink[] = [];
  #inflight = 0;
  #reporter?: HubReporter;
  #waitTimer?: NodeJS.Timeout;
  #started = false;
  /** The running start(), so close() can wait for it instead of missing what it opens. */
  #starting?: Promise<void>;
  #closed = false;
  #ended = false;
  /** The pool lost every session for good: queued frames will never run, so they no longer hold back 'end'. */
  #poolFailed = false;

  constructor(config: EdgeConfig) {
    super();
    this.config = config;
    this.edgeId =
      config.edgeId ??
      hostname()
        .replace(/[^A-Za-z0-9_.-]/g, '-')
        .slice(0, 64);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The model in use and the execution provider that runs it. */
  get modelId(): string {
    return this.config.detector.model;
  }
  get provider(): string {
    return this.#pool?.provider ?? 'none';
  }

  /**
   * Verify the model, open the sinks, start the inference pool, then start every stream. close() during start()
   * waits for it and then closes whatever it opened; start() after close() rejects with ClosedError.
   * Fails before any stream starts when the model or a sink is unusable; a stream that fails later
   * is reported and never stops the others.
   */
  start(): Promise<void> {
    if (this.#started) return Promise.reject(new Error('EdgeRuntime.start() was already called'));
    if (this.#closed) return Promise.reject(new ClosedError('EdgeRuntime'));
    this.#started = true;
    this.#starting = this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const { config } = this;
    this.#model = await loadModel(config.detector.model, { modelsDir: config.modelsDir });
    // Open every sink; when one fails, close those that opened instead of leaking their files.
    const opened = await Promise.allSettled(config.sinks.map((s) => createSink(s)));
    const sinks = opened.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = opened.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await Promise.allSettled(sinks.map((s) => s.close()));
      throw failed.reason;
    }
    this.#sinks = sinks;
    if (this.#closed) return; // close() was called meanwhile; it closes what is open once this returns
    this.#pool = await InferencePool.create({
      model: this.#model.entry,
      modelPath: this.#model.path,
      labels: this.#model.labels,
      inference: config.inference,
      // ByteTrack's second association needs the low-score boxes, so decode down to the tracker's low
      // threshold; results still publish only detections at or above detector.confidence.
      detector: { ...config.detector, confidence: decodeThreshold(config) },
    });
    this.#pool.on('slot', () => this.#pump());
    this.#pool.on('failed', (err) => this.#onPoolFailed(err));
    if (reidEnabled(config) && !this.#closed) {
      this.#reid = await ReidStage.create({
        reid: config.reid,
        inference: config.inference,
        modelsDir: config.modelsDir,
      });
      this.#log.info({ model: this.#reid.config.model, provider: this.#reid.provider }, 're-ID ready');
    }
    this.#scheduler = new Scheduler({ maxBatch: this.#pool.maxBatch, maxWaitMs: config.inference.maxWaitMs });
    // Enough to keep every session busy with this stream alone, and no more.
    this.#maxUntracked =
      this.#pool.maxBatch + 2 * config.inference.sessions * config.inference.inflightPerSession;
    this.#log.info(
      { model: this.#model.entry.id, provider: this.#pool.provider, sessions: config.inference.sessions },
      'inference ready',
    );
    if (this.#closed) return;
    for (const s of config.streams) this.#addStream({ ...s, id: s.id! });
    // StreamSource.start() never throws: a source that cannot open reports 'error' + 'failed' through its events.
    for (const s of this.#streams.values()) s.source.start();
    if (config.hubUrl) {
      this.#reporter = new HubReporter({
        hubUrl: config.hubUrl,
        edgeId: this.edgeId,
        snapshot: () => ({
          version: VERSION,
          model: this.modelId,
          provider: this.provider,
          streams: this.stats(),
        }),
      });
      this.#reporter.start();
    }
  }

  /** Re-ID counters (crops embedded, model calls, failures), or undefined when re-ID is off. */
  reidStats(): ReidStats | undefined {
    return this.#reid?.stats();
  }

  /** Live counters for every stream. */
  stats(): StreamStats[] {
    const now = nowMs();
    return [...this.#streams.values()].map((s) => {
      const c = this.#scheduler?.counters(s.config.id) ?? { droppedOverflow: 0, droppedStale: 0 };
      return {
        streamId: s.config.id,
        // The source as StreamSource shows it: an rtsp://user:password@ URL has its password redacted.
        source: s.source.stats().source,
        state: s.state,
        framesDecoded: s.framesDecoded,
        framesInferred: s.framesInferred,
        droppedOverflow: c.droppedOverflow,
        droppedStale: c.droppedStale,
        inferErrors: s.inferErrors,
        fps: s.meter.fps(now),
        latencyP50Ms: s.meter.percentile(50),
        latencyP95Ms: s.meter.percentile(95),
        activeTracks: s.activeTracks,
        reconnects: s.reconnects,
        // Bounded: an FFmpeg or ORT message can be long, and status reports must stay small.
        ...(s.lastError ? { lastError: s.lastError.slice(0, 1000) } : {}),
      };
    });
  }

  /** Stop every source, wait for frames in flight, close the pool and the sinks. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#reporter?.close();
    // A start() still running would open the pool, sinks and sources after this; wait for it first.
    await this.#starting?.catch(() => {});
    clearTimeout(this.#waitTimer);
    // allSettled: one source that fails to close must not keep the pool and the sinks open.
    await Promise.allSettled([...this.#streams.values()].map((s) => s.source.close()));
    const deadline = Date.now() + 5000;
    while (this.#inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await this.#pool?.close();
    await this.#reid?.close();
    this.#reidFailures.flush();
    this.#sinkFailures.flush();
    await Promise.all(this.#sinks.map((s) => s.close()));
  }

  /**
   * The box frames are decoded to fit in: the detector's input for letterbox models (it would scale them down
   * anyway), but with re-ID on, up to reid.frameHeight tall so person crops keep their detail.
   */
  #decodeSize(pool: InferencePool): { width: number; height: number } | undefined {
    if (this.#reid) return { width: 8192, height: this.#reid.config.frameHeight };
    return this.#model!.entry.preprocess.resize === 'letterbox' ? pool.inputSize : undefined;
  }

  #addStream(config: StreamConfig & { id: string }): void {
    const pool = this.#pool!;
    const source = new StreamSource({
      streamId: config.id,
      url: config.source,
      loop: config.loop,
      realtime: config.realtime,
      fit: this.#decodeSize(pool),
      backend: this.config.decoder.backend,
      ffmpegPath: this.config.decoder.ffmpegPath,
      threads: this.config.decoder.threads,
      // An unpaced file waits for the pipeline instead of dropping; keep enough queued to fill a batch and
      // feed every session, and no more (more would only add queueing latency).
      window: Math.min(
        this.config.ringCapacity,
        Math.max(
          4,
          pool.maxBatch + 2 * this.config.inference.sessions * this.config.inference.inflightPerSession,
        ),
      ),
    });
    const s: StreamRuntime = {
      config,
      source,
      tracker: createTracker(this.config.tracker),
      meter: new StreamMeter(),
      state: 'starting',
      framesDecoded: 0,
      framesInferred: 0,
      inferErrors: 0,
      reconnects: 0,
      activeTracks: 0,
      inOrder: [],
      embedding: false,
    };
    this.#streams.set(config.id, s);
    // Staleness is a live-stream budget: an unpaced file waits for the pipeline, so its frames never go stale.
    this.#scheduler!.addStream(config.id, {
      capacity: this.config.ringCapacity,
      stalenessMs: config.realtime ? config.stalenessMs : Number.POSITIVE_INFINITY,
    });
    source.on('frame', (frame) => this.#onFrame(s, frame));
    source.on('state', (state, err) => this.#setState(s, state, err ? describeError(err) : undefined));
    source.on('error', (err) => {
      s.lastError = describeError(err);
      this.#log.warn({ stream: config.id, err: s.lastError }, 'stream error');
    });
  }

  #setState(s: StreamRuntime, state: StreamStats['state'], error?: string): void {
    // Every 'reconnecting' from the source is one failed attempt followed by a retry, also while already reconnecting.
    if (state === 'reconnecting') s.reconnects++;
    if (error) s.lastError = error;
    if (s.state === state) return;
    s.state = state;
    this.#log.info({ stream: s.config.id, state, ...(error ? { err: error } : {}) }, 'stream state');
    this.emit('stream-state', s.config.id, state, error);
    if (state === 'ended' || state === 'failed') this.#checkEnd();
  }

  #onFrame(s: StreamRuntime, frame: DecodedFrame): void {
    if (this.#closed || s.state === 'ended') return;
    s.framesDecoded++;
    const evicted = this.#scheduler!.push(frame);
    if (evicted) s.source.release();
    const { maxFrames } = s.config;
    if (maxFrames !== undefined && s.framesDecoded >= maxFrames) {
      // The frame limit is reached: stop decoding; the frames already queued still run.
      void s.source.close();
      this.#setState(s, 'ended');
    }
    this.#pump();
  }

  /** Fill every free inference slot with the next batch the scheduler picks. */
  #pump(): void {
    const pool = this.#pool;
    const scheduler = this.#scheduler;
    if (!pool || !scheduler || this.#closed) return;
    clearTimeout(this.#waitTimer);
    this.#waitTimer = undefined;
    let dropped = false;
    while (pool.freeSlots > 0) {
      const now = nowMs();
      const decision = scheduler.next(now);
      for (const f of decision.stale) this.#streams.get(f.streamId)?.source.release();
      if (decision.stale.length) dropped = true;
      if (decision.batch.length === 0) {
        if (decision.waitMs !== undefined) this.#waitTimer = setTimeout(() => this.#pump(), decision.waitMs);
        break;
      }
      this.#dispatch(pool, decision.batch);
    }
    // Stale drops can empty the queues of ended streams with nothing in flight: nothing else would emit 'end'.
    if (dropped) this.#checkEnd();
  }

  #dispatch(pool: InferencePool, batch: DecodedFrame[]): void {
    const dispatchedAt = nowMs();
    const metas = batch.map((f): FrameMeta => {
      const s = this.#streams.get(f.streamId)!;
      const slot: InOrderSlot = { seq: f.seq };
      // The pixels go to the detector's worker; re-ID cuts its crops from a copy once the tracker asks.
      if (this.#reid && s.tracker.appearanceWanted) {
        slot.pixels = {
          data: f.data.slice(),
          width: f.width,
          height: f.height,
          sourceWidth: f.sourceWidth,
          sourceHeight: f.sourceHeight,
        };
      }
      s.inOrder.push(slot);
      // Bound the frames dispatched but not yet tracked: behind a re-ID wait they would pile up (with their
      // pixel copies); the stream's next frames stay in its ring meanwhile, where staleness and overflow apply.
      if (s.inOrder.length >= this.#maxUntracked) this.#scheduler!.hold(s.config.id, true);
      s.source.release();
      return {
        s,
        slot,
        seq: f.seq,
        pts: f.pts,
        width: f.sourceWidth,
        height: f.sourceHeight,
        capturedAt: f.capturedAt,
        decodeMs: f.decodeMs,
        queueMs: dispatchedAt - f.capturedAt,
      };
    });
    this.#inflight++;
    pool.infer(batch).then(
      (results) => this.#onResults(metas, results),
      (err) => this.#onResults(metas, undefined, err),
    );
  }

  #onResults(metas: FrameMeta[], results: InferResult[] | undefined, error?: unknown): void {
    this.#inflight--;
    if (error) this.#log.warn({ err: describeError(error), frames: metas.length }, 'inference failed');
    metas.forEach((m, i) => {
      const r = results?.[i];
      if (!r) {
        m.s.inferErrors++;
        m.s.lastError = error
          ? `inference failed: ${describeError(error)}`
          : 'inference failed: the inference worker returned no result for this frame';
        m.slot.done = null;
        return;
      }
      m.slot.done = {
        streamId: m.s.config.id,
        seq: m.seq,
        pts: m.pts,
        width: m.width,
        height: m.height,
        capturedAt: m.capturedAt,
        detections: r.detections,
        tracks: [],
        timings: {
          decodeMs: m.decodeMs,
          queueMs: m.queueMs,
          preprocessMs: r.preprocessMs,
          inferMs: r.inferMs,
          postprocessMs: r.postprocessMs,
        },
      };
    });
    for (const s of new Set(metas.map((m) => m.s))) this.#drainInOrder(s);
    this.#pump();
    this.#checkEnd();
  }

  /**
   * Hand results to the tracker strictly in decode order, even when sessions finish out of order. A frame whose
   * detections the tracker wants embeddings for waits for them (and holds the frames behind it); when re-ID
   * fails, that frame is tracked without appearance.
   */
  #drainInOrder(s: StreamRuntime): void {
    this.#releaseHold(s);
    while (!s.embedding && s.inOrder.length && s.inOrder[0]!.done !== undefined) {
      const slot = s.inOrder.shift()!;
      const result = slot.done;
      if (!result) continue;
      const reid = this.#reid;
      const wanted = slot.pixels && reid ? s.tracker.appearanceWanted?.(result.detections) : undefined;
      const eligible = wanted && reid ? reid.eligible(result.detections, wanted) : undefined;
      if (!reid || !slot.pixels || !eligible?.includes(true)) {
        this.#track(s, result);
        continue;
      }
      this.#releaseHold(s);
      s.embedding = true;
      this.#inflight++;
      const t0 = nowMs();
      reid.appearance(slot.pixels, result.detections, eligible).then(
        (appearance) => this.#afterEmbedding(s, result, t0, appearance),
        (err: unknown) => {
          if (!(err instanceof ClosedError))
            this.#reidFailures.failed(s.config.id, err, { stream: s.config.id });
          this.#afterEmbedding(s, result, t0);
        },
      );
      return;
    }
  }

  /** Let the scheduler send this stream's frames again once few enough are dispatched but untracked. */
  #releaseHold(s: StreamRuntime): void {
    if (s.inOrder.length < this.#maxUntracked) this.#scheduler?.hold(s.config.id, false);
  }

  #afterEmbedding(s: StreamRuntime, result: FrameResult, t0: number, appearance?: Appearance): void {
    s.embedding = false;
    this.#inflight--;
    result.timings.embedMs = nowMs() - t0;
    // Also while closing: close() waits for frames in flight and the sinks are still open.
    try {
      this.#track(s, result, appearance);
      this.#drainInOrder(s);
    } catch (err) {
      this.#log.error({ stream: s.config.id, err: describeError(err) }, 'tracking failed');
    }
    this.#pump();
    this.#checkEnd();
  }

  /** Track one frame's detections and publish the result to the sinks and listeners. */
  #track(s: StreamRuntime, result: FrameResult, appearance?: Appearance): void {
    const t0 = nowMs();
    result.tracks = s.tracker.update(result.detections, appearance);
    const minScore = this.config.detector.confidence;
    if (result.detections.some((d) => d.score < minScore)) {
      result.detections = result.detections.filter((d) => d.score >= minScore);
    }
    const done = nowMs();
    result.timings.trackMs = done - t0;
    result.timings.totalMs = done - result.capturedAt;
    s.activeTracks = result.tracks.length;
    s.framesInferred++;
    s.meter.record(done, result.timings.totalMs);
    for (const sink of this.#sinks) {
      try {
        sink.write(result);
      } catch (err) {
        this.#sinkFailures.failed(sink, err, { sink: sink.constructor.name });
      }
    }
    try {
      this.emit('result', result);
    } catch (err) {
      // A throwing listener must not end up as an unhandled rejection in the inference promise chain.
      this.#log.error({ err: describeError(err) }, "a 'result' listener threw");
    }
  }

  /** No inference session is left: fail every live stream (nothing would process its frames) so 'end' fires. */
  #onPoolFailed(err: Error): void {
    this.#poolFailed = true;
    const why = describeError(err);
    this.#log.error({ err: why }, 'inference stopped for good; failing every stream');
    for (const s of this.#streams.values()) {
      if (s.state === 'ended' || s.state === 'failed') continue;
      void s.source.close();
      this.#setState(s, 'failed', why);
    }
    this.#checkEnd();
  }

  #checkEnd(): void {
    if (this.#ended || this.#inflight > 0) return;
    if (!this.#poolFailed && (this.#scheduler?.pending ?? 0) > 0) return;
    for (const s of this.#streams.values()) if (s.state !== 'ended' && s.state !== 'failed') return;
    this.#ended = true;
    // A failed flush (e.g. disk full) is logged, never an unhandled rejection; 'end' still fires.
    Promise.all(this.#sinks.map((s) => s.flush()))
      .catch((err: unknown) => this.#log.error({ err: describeError(err) }, 'sink flush failed'))
      .then(() => this.emit('end'));
  }
}
