/**
 * The edge runtime: sources -> frame rings -> scheduler -> inference backend -> per-stream core (reorder, re-ID
 * wait, tracking) -> result fan-out (sinks, listeners, thumbnails). Runs on the main thread and only moves frames
 * and messages; decoding and inference run in worker threads (or wherever the inference backend runs them).
 * This file composes the parts: StreamRegistry (streams and control operations), LiveStream + StreamCore (one
 * stream), ResultFanout (publishing).
 */
import {
  ClosedError,
  childLogger,
  describeError,
  type EdgeConfig,
  type InferenceError,
  nowMs,
  SightlineError,
  type StreamConfig,
  type StreamConfigInput,
  type StreamStats,
  TypedEmitter,
} from '@sightline/shared';
import { checkConfigReferences } from '../config-check.ts';
import type { DecodedFrame } from '../frame.ts';
import type { InferenceBackend, InferenceBackendFactory } from '../inference/backend.ts';
import { InferencePool } from '../inference/inference-pool.ts';
import { startingLayout } from '../inference/retune.ts';
import { createEdgeMetrics, type EdgeMetrics } from '../metrics/edge-metrics.ts';
import { type LoadedModel, loadModel } from '../models/load.ts';
import { loadManifest } from '../models/manifest.ts';
import type { ReidStats } from '../reid/reid-stage.ts';
import type { StreamInfo } from '../sources/stream-source.ts';
import type { ClassifyStats } from '../stages/classify-stage.ts';
import { closePostStages, openPostStages, stagePlan, streamStages } from '../stages/post-stages.ts';
import type { PostStages } from '../stages/run-stages.ts';
import type { SegmentStats } from '../stages/segment-stage.ts';
import { ThumbnailStage } from '../thumbnails/thumbnail-stage.ts';
import { createTracker } from '../tracking/create-tracker.ts';
import type { ConfigPatch } from './config-change.ts';
import { Dispatcher } from './dispatcher.ts';
import {
  decodeFit,
  LiveStream,
  type LiveStreamListener,
  type StreamState,
  sourcePolicy,
  sourceRefusal,
  streamSourceOptions,
} from './live-stream.ts';
import { ResultFanout } from './result-fanout.ts';
import { decodeThreshold, droppedFrame, type EdgeRuntimeEvents, edgeIdOf } from './runtime-events.ts';
import type { EdgeRuntimeOptions } from './runtime-options.ts';
import { Scheduler } from './scheduler.ts';
import { StreamCore } from './stream-core.ts';
import { StreamRegistry } from './stream-registry.ts';

export type { EdgeRuntimeOptions } from './runtime-options.ts';

export class EdgeRuntime extends TypedEmitter<EdgeRuntimeEvents> {
  readonly edgeId: string;
  #log = childLogger('edge');
  readonly #createBackend: InferenceBackendFactory;
  readonly #options: EdgeRuntimeOptions;
  #model?: LoadedModel;
  #backend?: InferenceBackend;
  /** The stages after detection this edge runs (re-ID, classify, segment). */
  #stages: PostStages = {};
  /** Most frames of one stream dispatched but not yet tracked before its queue is held (set in start()). */
  #maxUntracked = Number.POSITIVE_INFINITY;
  #scheduler?: Scheduler;
  /** Frames to the backend and results back through the streams' cores (set in start()). */
  #dispatcher?: Dispatcher;
  readonly #streams: StreamRegistry<LiveStream>;
  readonly #fanout: ResultFanout;
  #started = false;
  /** The running start(), so close() can wait for it instead of missing what it opens. */
  #starting?: Promise<void>;
  #closed = false;
  #ended = false;
  /** The backend failed for good: queued frames will never run, so they no longer hold back 'end'. */
  #backendFailed = false;
  #thumbnails: ThumbnailStage;
  #metrics?: EdgeMetrics;
  /** Sources opened from now on also emit their compressed packets ('packet' events). */
  #packets = false;
  /** The sources of the config the edge started with: the operator's own, opened wherever their files are. */
  readonly #operatorSources: ReadonlySet<string>;
  /** What the streams' sources tell the runtime. */
  readonly #listener: LiveStreamListener = {
    frame: (s, frame) => this.#onFrame(s, frame),
    state: (s, state, error) => this.#setState(s, state, error),
    info: (s, info) => this.#emitSafely('stream-info', s.id, info),
    packet: (_s, packet) => this.#emitSafely('packet', packet),
    error: (s, message) => this.#log.warn({ stream: s.id, err: message }, 'stream error'),
  };

  constructor(config: EdgeConfig, options: EdgeRuntimeOptions = {}) {
    super();
    this.#createBackend = options.inferenceBackend ?? ((o) => InferencePool.create(o));
    this.#options = options;
    this.#operatorSources = new Set(config.streams.map((s) => s.source));
    this.#thumbnails = new ThumbnailStage({
      config: config.thumbnails,
      onThumbnail: (t) => this.#emitSafely('thumbnail', t),
    });
    this.#fanout = new ResultFanout({
      log: this.#log,
      emit: (result) => this.emit('result', result),
      offerThumbnail: (pixels, result) => this.#thumbnails.offer(pixels, result),
    });
    this.edgeId = edgeIdOf(config);
    this.#streams = new StreamRegistry<LiveStream>({
      config,
      edgeId: this.edgeId,
      host: {
        ready: () => this.#ready(),
        open: (c, carry) => this.#openStream(c, carry),
        start: (s, announce) => this.#startSource(s, announce),
        retire: (s) => this.#retire(s),
        // 'stopped' first: the closing source's own state changes are ignored once the stream is retired.
        stop: (s) => this.#setState(s, 'stopped'),
        checkCanStart: () => {
          if (this.#backendFailed)
            throw new SightlineError('INFERENCE_FAILED', 'inference stopped for good; restart the edge');
        },
        stats: (s) => this.#statsOf(s, nowMs()),
        forget: (id) => this.#thumbnails.forgetStream(id),
        reconfigure: (next, old) => {
          if (next.inference.maxWaitMs !== old.inference.maxWaitMs)
            this.#scheduler!.maxWaitMs = next.inference.maxWaitMs;
          this.#thumbnails.configure(next.thumbnails);
        },
        retrack: (s) => {
          s.core.tracker = createTracker(this.config.tracker);
          this.#thumbnails.forgetStream(s.id);
        },
        removed: (id) => {
          this.#log.info({ stream: id }, 'stream removed');
          this.#emitSafely('stream-removed', id);
        },
        checkEnd: () => this.#checkEnd(),
        applied: (change) => {
          this.#log.info({ applied: change.applied }, 'config applied');
          this.#emitSafely('config-applied', change);
          this.#checkEnd();
        },
      },
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The effective config: the one given, with stream changes and applyConfig() patches applied. */
  get config(): EdgeConfig {
    return this.#streams.config;
  }

  /**
   * Prometheus metrics of this runtime (its own registry), created on first use. Add gauges of other parts (e.g.
   * an uplink's outbox) with registerGauge(); serve them with startMetricsServer() (the EdgeAgent does, given
   * metrics.port).
   */
  get metrics(): EdgeMetrics {
    this.#metrics ??= createEdgeMetrics(this);
    return this.#metrics;
  }

  /**
   * Make the streams' sources emit their compressed packets ('packet' events, re-encoded to H.264 where needed):
   * for a WebRTC publisher. Call before start(); streams opened later (added, restarted) get them too, streams
   * already open do once restarted. Off by default so the pipeline alone does not pay for it.
   */
  enablePackets(): void {
    this.#packets = true;
  }

  /** Whether enablePackets() was called. */
  get packetsEnabled(): boolean {
    return this.#packets;
  }

  /** The latest stream info of a stream's source (undefined before it opened, or for an unknown id). */
  streamInfo(id: string): StreamInfo | undefined {
    const s = this.#streams.get(id);
    return s && !s.retired ? s.source.info : undefined;
  }

  /**
   * A viewer of stream `id` needs a keyframe (a PLI reached its publisher): a re-encoded stream makes one now
   * (at most twice a second); for a `whip://` stream, 'keyframe-wanted' lets the WHIP server ask its publisher; a
   * file or RTSP camera answers at its next keyframe. True when passed on.
   */
  requestKeyframe(id: string): boolean {
    const s = this.#streams.get(id);
    if (!s || s.retired) return false;
    if (s.source.requestKeyframe()) return true;
    // Only a WHIP publisher can be asked (RTSP and files have no back channel for it).
    if (!s.config.source.startsWith('whip://') || this.listenerCount('keyframe-wanted') === 0) return false;
    this.#emitSafely('keyframe-wanted', id);
    return true;
  }

  /** Thumbnail counters (encoded, skipped while busy, failed, tracks remembered). */
  thumbnailStats(): ReturnType<ThumbnailStage['stats']> {
    return this.#thumbnails.stats();
  }

  /** The model in use and the execution provider that runs it. */
  get modelId(): string {
    return this.config.detector.model;
  }
  get provider(): string {
    return this.#backend?.provider ?? 'none';
  }

  /**
   * Verify the model, open the sinks, start the inference backend, then start every stream. close() during
   * start() waits for it and then closes whatever it opened; start() after close() rejects with ClosedError.
   * Fails before any stream starts when the model or a sink is unusable, or a field naming a model or a class
   * label names none (ConfigError, see checkConfigReferences); a stream that fails later
   * is reported and never stops the others.
   */
  start(): Promise<void> {
    if (this.#started) return Promise.reject(new TypeError('EdgeRuntime.start() was already called'));
    if (this.#closed) return Promise.reject(new ClosedError('EdgeRuntime'));
    this.#started = true;
    this.#starting = this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const { config } = this;
    // Model ids, then class labels (against the model as loaded) are checked before anything opens: a typo
    // would otherwise fail every frame (ConfigError naming the field and the closest valid names).
    const manifest = await loadManifest();
    checkConfigReferences(config, { manifest });
    this.#model = await loadModel(config.detector.model, { modelsDir: config.modelsDir, manifest });
    const refs = {
      manifest,
      detectorModel: this.#model.entry.id,
      detectorLabels: this.#model.entry.labels === undefined ? null : this.#model.labels,
    };
    checkConfigReferences(config, refs);
    this.#streams.references = refs;
    await this.#fanout.openSinks(config.sinks);
    if (this.#closed) return; // close() was called meanwhile; it closes what is open once this returns
    // A stored tuning (re-measured first when stale) fills the layout the config leaves unset.
    const { inference, entry } = await startingLayout(
      this.#model,
      config.inference,
      this.#options,
      this.#log,
    );
    if (this.#closed) return;
    const backend = await this.#createBackend({
      model: entry,
      modelPath: this.#model.path,
      labels: this.#model.labels,
      inference,
      // ByteTrack's second association needs the low-score boxes, so decode down to the tracker's low
      // threshold; results still publish only detections at or above detector.confidence.
      detector: { ...config.detector, confidence: decodeThreshold(config) },
    });
    this.#backend = backend;
    backend.on('slot', () => this.#dispatcher?.pump());
    backend.on('failed', (err) => this.#onBackendFailed(err));
    this.#stages = await openPostStages(config, {
      manifest,
      backend: this.#createBackend,
      log: this.#log,
      closed: () => this.#closed,
    });
    this.#scheduler = new Scheduler({ maxBatch: backend.maxBatch, maxWaitMs: config.inference.maxWaitMs });
    this.#dispatcher = new Dispatcher({
      backend,
      scheduler: this.#scheduler,
      stages: this.#stages,
      stream: (id) => this.#streams.get(id),
      wantsThumbnail: (seq) => this.#thumbnails.wants(seq),
      publish: (result, thumbPixels) => this.#fanout.publish(result, thumbPixels),
      dropped: (...args) => this.#emitSafely('frame-dropped', ...args),
      // Decoded down to the live threshold: applyConfig() may have changed detector.confidence or the tracker.
      confidence: () => decodeThreshold(this.config),
      settled: () => this.#checkEnd(),
      log: this.#log,
    });
    // Enough to keep every session busy with this stream alone, and no more.
    this.#maxUntracked = backend.maxBatch + 2 * inference.sessions * inference.inflightPerSession;
    this.#log.info(
      { model: this.#model.entry.id, provider: backend.provider, sessions: inference.sessions },
      'inference ready',
    );
    if (this.#closed) return;
    // StreamSource.start() never throws: a source that cannot open reports 'error' + 'failed' through its events.
    this.#streams.openAll();
  }

  /** Counters of the stages after detection (re-ID, classify, segment), each undefined when off. */
  stageStats(): { reid?: ReidStats; classify?: ClassifyStats; segment?: SegmentStats } {
    const { reid, classify, segment } = this.#stages;
    return { reid: reid?.stats(), classify: classify?.stats(), segment: segment?.stats() };
  }

  /** Live counters for every stream. */
  stats(): StreamStats[] {
    const now = nowMs();
    return [...this.#streams.values()].map((s) => this.#statsOf(s, now));
  }

  /** Stop every source, wait for frames in flight, close the backend and the sinks. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // A start() still running would open the backend, sinks and sources after this; wait for it first.
    await this.#starting?.catch(() => {});
    this.#dispatcher?.stop();
    await this.#streams.settled();
    // allSettled: one source that fails to close must not keep the backend and the sinks open.
    await Promise.allSettled([...this.#streams.values()].map((s) => s.source.close()));
    await this.#dispatcher?.idle();
    await this.#thumbnails.close();
    await this.#backend?.close();
    await closePostStages(this.#stages);
    this.#dispatcher?.flushFailures();
    await this.#fanout.close();
  }

  /**
   * Add a stream and start decoding it at once. The config is validated with the StreamConfig schema (ConfigError
   * naming the bad fields); an id already in use is a ConfigError too; without an id the first free camN is used.
   * Only after start() (rejects before it, and with ClosedError after close()). A source outside the edge's source
   * policy (config `sources`) rejects at once with SourceError SOURCE_REFUSED, so the hub's API can answer with it.
   */
  async addStream(input: StreamConfigInput): Promise<StreamStats> {
    const source = typeof input?.source === 'string' ? input.source : undefined;
    const refused = source && (await sourceRefusal(this.config, this.#operatorSources, source));
    if (refused) throw refused;
    return this.#streams.addStream(input);
  }

  /**
   * Remove a stream: its source closes, its queued frames are dropped, and its frames still in flight finish but
   * publish nothing. It disappears from stats() and config.streams. Unknown id: SightlineError STREAM_UNKNOWN.
   */
  removeStream(id: string): Promise<void> {
    return this.#streams.removeStream(id);
  }

  /**
   * Stop a stream: its source closes, its queued frames are dropped (frames in flight publish nothing), and its
   * state becomes 'stopped'. A stopped stream keeps its stats and holds back the runtime's 'end' event.
   * Stopping a stream that is already stopped does nothing. Unknown id: SightlineError STREAM_UNKNOWN.
   */
  stopStream(id: string): Promise<StreamStats> {
    return this.#streams.stopStream(id);
  }

  /**
   * Start a stopped, ended or failed stream again with a fresh source and a fresh tracker (track ids restart at
   * 1); its counters carry on. State goes starting -> running. A stream that is live already is left alone.
   * Unknown id: SightlineError STREAM_UNKNOWN.
   */
  startStream(id: string): Promise<StreamStats> {
    return this.#streams.startStream(id);
  }

  /**
   * Change the config while running. `patch` is a partial EdgeConfig deep-merged over the current one (objects
   * merge; arrays such as streams replace; a tracker of another type replaces the tracker), then validated with
   * the full schema: a wrong type or unknown field rejects it with a ConfigError naming the fields.
   * Applied live: `streams` (diffed by id: new ids added, missing ids removed, changed ones restarted),
   * `detector.confidence`, `inference.maxWaitMs`, `tracker` settings (every stream gets a new tracker: track ids
   * restart at 1) and `thumbnails`. A change to any other field needs a restart: the whole patch is rejected with
   * SightlineError CONFIG_RESTART_REQUIRED listing those fields, and nothing changes.
   * Resolves with the dotted paths changed (`streams.<id>` per stream added, removed or restarted) and emits
   * 'config-applied' when any changed.
   */
  applyConfig(patch: ConfigPatch): Promise<{ applied: string[] }> {
    return this.#streams.applyConfig(patch);
  }

  /** Control operations run once start() has finished, and not after close(). */
  async #ready(): Promise<void> {
    if (!this.#started) throw new SightlineError('CLOSED', 'EdgeRuntime is not started; call start() first');
    await this.#starting;
    if (this.#closed || !this.#backend || !this.#scheduler) throw new ClosedError('EdgeRuntime');
  }

  #statsOf(s: LiveStream, now: number): StreamStats {
    return s.stats(s.retired ? undefined : this.#scheduler?.counters(s.id), now);
  }

  /**
   * Create a stream's source, core and scheduler queue (not started yet). `carry`: the stream it replaces after a
   * stop / start, whose counters carry on.
   */
  #openStream(config: StreamConfig & { id: string }, carry?: LiveStream): LiveStream {
    const backend = this.#backend!;
    const core = new StreamCore({
      streamId: config.id,
      tracker: createTracker(this.config.tracker),
      // What this stream's stages ask of each frame: embeddings, whole-frame work, crop labels.
      ...stagePlan(streamStages(this.config, config), this.#stages),
      maxUntracked: this.#maxUntracked,
      minScore: () => this.config.detector.confidence,
      ...(carry ? { carry: carry.core } : {}),
    });
    const source = streamSourceOptions(this.config, config, {
      fit: decodeFit({
        reidFrameHeight: this.#stages.reid?.config.frameHeight,
        letterbox: this.#model!.entry.preprocess.resize === 'letterbox',
        inputSize: backend.inputSize,
      }),
      policy: sourcePolicy(this.config, this.#operatorSources, config.source),
      keepPackets: this.#packets,
      maxBatch: backend.maxBatch,
    });
    const s = new LiveStream({ config, source, core, listener: this.#listener, ...(carry ? { carry } : {}) });
    // A new stream may end again: let 'end' fire once more when every stream is done.
    this.#ended = false;
    // Staleness is a live-stream budget: an unpaced file waits for the pipeline, so its frames never go stale.
    this.#scheduler!.addStream(config.id, {
      capacity: this.config.ringCapacity,
      stalenessMs: config.realtime ? config.stalenessMs : Number.POSITIVE_INFINITY,
    });
    return s;
  }

  /** Start a stream's source; `announce`: a stream added at run time says 'starting' first. */
  #startSource(s: LiveStream, announce: boolean): void {
    s.source.start();
    if (announce) this.#emitSafely('stream-state', s.id, 'starting');
  }

  /** Take a stream's pipeline out of service: its queued frames are dropped, its source closes (see LiveStream). */
  async #retire(s: LiveStream): Promise<void> {
    if (s.retired) return s.retire(undefined);
    const closing = s.retire(this.#scheduler!.counters(s.id));
    this.#scheduler!.removeStream(s.id);
    await closing;
  }

  #setState(s: LiveStream, state: StreamState, error?: string): void {
    if (!s.setState(state, error)) return;
    this.#log.info({ stream: s.id, state, ...(error ? { err: error } : {}) }, 'stream state');
    this.emit('stream-state', s.id, state, error);
    if (state === 'ended' || state === 'failed') this.#checkEnd();
  }

  #onFrame(s: LiveStream, frame: DecodedFrame): void {
    if (this.#closed || s.retired || s.state === 'ended') return;
    s.framesDecoded++;
    s.sourceFrames++;
    const evicted = this.#scheduler!.push(frame);
    if (evicted) {
      s.source.release();
      this.#emitSafely('frame-dropped', s.id, evicted.pts, 'overflow', droppedFrame(evicted));
    }
    const { maxFrames } = s.config;
    if (maxFrames !== undefined && s.sourceFrames >= maxFrames) {
      // The frame limit is reached: stop decoding; the frames already queued still run.
      void s.source.close();
      this.#setState(s, 'ended');
    }
    this.#dispatcher?.pump();
  }

  /** Emit an event; a listener that throws is logged, never breaks the pipeline. */
  #emitSafely<K extends keyof EdgeRuntimeEvents>(event: K, ...args: EdgeRuntimeEvents[K]): void {
    try {
      this.emit(event, ...args);
    } catch (err) {
      this.#log.error({ err: describeError(err) }, `a '${event}' listener threw`);
    }
  }

  /** The backend failed for good: fail every live stream (nothing would process its frames) so 'end' fires. */
  #onBackendFailed(err: InferenceError): void {
    this.#backendFailed = true;
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
    if (this.#ended || (this.#dispatcher?.inFlight ?? 0) > 0) return;
    if (!this.#backendFailed && (this.#scheduler?.pending ?? 0) > 0) return;
    // No stream at all (every one removed) is not an end: streams may be added again.
    if (this.#streams.size === 0) return;
    for (const s of this.#streams.values()) if (s.state !== 'ended' && s.state !== 'failed') return;
    this.#ended = true;
    // A failed flush (e.g. disk full) is logged, never an unhandled rejection; 'end' still fires.
    void this.#fanout.flush().then(() => this.emit('end'));
  }
}
