/**
 * The edge runtime: sources -> frame rings -> scheduler -> inference pool -> per-stream reorder ->
 * tracker -> sinks. Runs on the main thread and only moves frames and messages; decoding and
 * inference run in worker threads.
 */
import { hostname } from 'node:os';
import {
  ClosedError,
  ConfigError,
  childLogger,
  describeError,
  type EdgeConfig,
  type FrameResult,
  nowMs,
  SightlineError,
  SOURCE_SCHEMES,
  StreamConfig,
  type StreamConfigInput,
  type StreamStats,
  TypedEmitter,
} from '@sightline/shared';
import { type ConfigReferences, checkConfigReferences } from '../config-check.ts';
import type { DecodedFrame, EncodedPacket } from '../frame.ts';
import { InferencePool, type InferResult } from '../inference/inference-pool.ts';
import { createEdgeMetrics, type EdgeMetrics } from '../metrics/edge-metrics.ts';
import { type MetricsServer, startMetricsServer } from '../metrics/metrics-server.ts';
import { type LoadedModel, loadModel } from '../models/load.ts';
import { loadManifest, mediaDir } from '../models/manifest.ts';
import type { CropSource } from '../preprocess/crop.ts';
import { ReidStage, type ReidStats } from '../reid/reid-stage.ts';
import { createSink, type Sink } from '../sinks/sink.ts';
import type { SourcePolicy } from '../sources/source-policy.ts';
import { type StreamInfo, StreamSource } from '../sources/stream-source.ts';
import { ThumbnailStage, type TrackThumbnail } from '../thumbnails/thumbnail-stage.ts';
import { type Appearance, createTracker, type Tracker } from '../tracking/tracker.ts';
import { videoFacts } from '../webrtc/video-facts.ts';
import { type ConfigPatch, planConfigChange } from './config-change.ts';
import { FailureLog } from './failure-log.ts';
import { Scheduler } from './scheduler.ts';
import { StreamMeter } from './stream-meter.ts';

export type EdgeRuntimeEvents = {
  /** One processed frame, in order per stream. */
  result: [FrameResult];
  /** A stream changed state (starting, running, reconnecting, ended, failed, stopped). */
  'stream-state': [streamId: string, state: StreamStats['state'], error?: string];
  /** A track showed clearly better than in its previous thumbnail: a new JPEG of it (see ThumbnailStage). */
  thumbnail: [TrackThumbnail];
  /** applyConfig() changed the effective config: the dotted paths it changed, and the new config. */
  'config-applied': [change: { applied: string[]; config: EdgeConfig }];
  /** A stream was removed (removeStream, or applyConfig without it); a restarted stream is not removed. */
  'stream-removed': [streamId: string];
  /**
   * A viewer needs a keyframe of a stream whose packets go out as its source encoded them: whoever can ask that
   * source (the WHIP server asks the publishing browser or camera with an RTCP PLI) does.
   */
  'keyframe-wanted': [streamId: string];
  /** A stream's source opened (again after each reconnect or restart): its codec, size, extradata, transcoding. */
  'stream-info': [streamId: string, info: StreamInfo];
  /**
   * A compressed packet of a stream, in decode order (only after enablePackets()). H.264 as demuxed, or re-encoded
   * to H.264 when the source is not (see StreamInfo.transcoded); pts on the same 90 kHz clock as the frames.
   */
  packet: [packet: EncodedPacket];
  /**
   * A decoded frame will get no 'result': dropped before inference by the ring ('overflow') or the scheduler
   * ('stale'), or its inference failed ('infer-failed').
   */
  'frame-dropped': [streamId: string, pts: number, reason: FrameDropReason, frame: DroppedFrame];
  /**
   * Every stream has ended or failed (none running, starting, reconnecting or stopped) and every frame in flight
   * is done. Fires again after a stream added or started later ends too.
   */
  end: [];
};

/** Why a frame got no result: see the 'frame-dropped' event. */
export type FrameDropReason = 'overflow' | 'stale' | 'infer-failed';

/** What is known of a dropped frame (as in its FrameResult had it got one). */
export interface DroppedFrame {
  seq: number;
  /** Source frame size in pixels. */
  width: number;
  height: number;
  /** Wall-clock ms when the decoder produced the frame. */
  capturedAt: number;
}

function droppedFrame(f: DecodedFrame): DroppedFrame {
  return { seq: f.seq, width: f.sourceWidth, height: f.sourceHeight, capturedAt: f.capturedAt };
}

interface StreamRuntime {
  config: StreamConfig & { id: string };
  /** Set when the stream was removed, stopped or restarted: its frames still in flight are dropped when they return. */
  retired: boolean;
  /** Frames decoded by this source (maxFrames counts these; framesDecoded counts across restarts). */
  sourceFrames: number;
  /** Scheduler drops of this stream's earlier queues (before a stop / start), so the counters never go back. */
  droppedBase: { overflow: number; stale: number };
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
  /** What is published of this stream's video (from its stream info and first SPS), once known. */
  video?: NonNullable<StreamStats['video']>;
}

/** One dispatched frame: its result once back (null when inference failed), and its pixels when re-ID needs them. */
interface InOrderSlot {
  seq: number;
  pts: number;
  /** For a 'frame-dropped' event should its inference fail. */
  frame: DroppedFrame;
  done?: FrameResult | null;
  pixels?: CropSource;
  /** The thumbnail stage considers this frame (its pixels are kept for it). */
  thumb?: boolean;
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
  #config: EdgeConfig;
  readonly edgeId: string;
  #log = childLogger('edge');
  /** A sink that throws on every frame logs once, then a summary at most every 10 s. */
  #sinkFailures = new FailureLog<Sink>(this.#log, 'sink write failed');
  #model?: LoadedModel;
  /** The manifest and detector labels the config's names were checked against at start (for applyConfig). */
  #refs?: ConfigReferences;
  #pool?: InferencePool;
  #reid?: ReidStage;
  /** Most frames of one stream dispatched but not yet tracked before its queue is held (set in start()). */
  #maxUntracked = Number.POSITIVE_INFINITY;
  #reidFailures = new FailureLog<string>(this.#log, 're-ID failed; frames tracked without appearance');
  #scheduler?: Scheduler;
  #streams = new Map<string, StreamRuntime>();
  #sinks: Sink[] = [];
  #inflight = 0;
  #waitTimer?: NodeJS.Timeout;
  #started = false;
  /** The running start(), so close() can wait for it instead of missing what it opens. */
  #starting?: Promise<void>;
  #closed = false;
  #ended = false;
  /** The pool lost every session for good: queued frames will never run, so they no longer hold back 'end'. */
  #poolFailed = false;
  #thumbnails: ThumbnailStage;
  #metrics?: EdgeMetrics;
  #metricsServer?: MetricsServer;
  /** The control operation running now (addStream, applyConfig, ...): they run one at a time. */
  #control: Promise<unknown> = Promise.resolve();
  /** Sources opened from now on also emit their compressed packets ('packet' events). */
  #packets = false;
  /** The sources of the config the edge started with: the operator's own, opened wherever their files are. */
  readonly #operatorSources: ReadonlySet<string>;

  constructor(config: EdgeConfig) {
    super();
    this.#config = config;
    this.#operatorSources = new Set(config.streams.map((s) => s.source));
    this.#thumbnails = new ThumbnailStage({
      config: config.thumbnails,
      onThumbnail: (t) => {
        try {
          this.emit('thumbnail', t);
        } catch (err) {
          this.#log.error({ err: describeError(err) }, "a 'thumbnail' listener threw");
        }
      },
    });
    this.edgeId =
      config.edgeId ??
      hostname()
        .replace(/[^A-Za-z0-9_.-]/g, '-')
        .slice(0, 64);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The effective config: the one given, with stream changes and applyConfig() patches applied. */
  get config(): EdgeConfig {
    return this.#config;
  }

  /**
   * Prometheus metrics of this runtime (its own registry): created on first use, or by start() when metrics.port
   * is set. Add gauges of other parts (e.g. an uplink's outbox) with registerGauge().
   */
  get metrics(): EdgeMetrics {
    this.#metrics ??= createEdgeMetrics(this);
    return this.#metrics;
  }

  /** The metrics server's base URL (http://host:port) while it runs; undefined when metrics.port is unset. */
  get metricsUrl(): string | undefined {
    return this.#metricsServer?.url;
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
    return this.#pool?.provider ?? 'none';
  }

  /**
   * Verify the model, open the sinks, start the inference pool, then start every stream. close() during start()
   * waits for it and then closes whatever it opened; start() after close() rejects with ClosedError.
   * Fails before any stream starts when the model or a sink is unusable, or a field naming a model or a class
   * label names none (ConfigError, see checkConfigReferences); a stream that fails later
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
    // Fields naming a model or a class label are checked before anything opens: a typo in detector.classes
    // would otherwise fail every frame (ConfigError naming the field and the closest valid names). Model ids
    // first, then the classes against the labels of the model as loaded (its files verified).
    const manifest = await loadManifest();
    checkConfigReferences(config, { manifest });
    this.#model = await loadModel(config.detector.model, { modelsDir: config.modelsDir, manifest });
    this.#refs = {
      manifest,
      detectorModel: this.#model.entry.id,
      detectorLabels: this.#model.entry.labels === undefined ? null : this.#model.labels,
    };
    checkConfigReferences(config, this.#refs);
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
        manifest,
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
    if (config.metrics?.port !== undefined) {
      this.#metricsServer = await startMetricsServer({
        port: config.metrics.port,
        host: config.metrics.host,
        registry: this.metrics.registry,
        readiness: () => this.metrics.readiness(),
      });
      this.#log.info({ url: this.#metricsServer.url }, 'metrics server listening');
      if (this.#closed) return;
    }
    for (const s of config.streams) this.#openStream({ ...s, id: s.id! });
    // StreamSource.start() never throws: a source that cannot open reports 'error' + 'failed' through its events.
    for (const s of this.#streams.values()) s.source.start();
  }

  /** Re-ID counters (crops embedded, model calls, failures), or undefined when re-ID is off. */
  reidStats(): ReidStats | undefined {
    return this.#reid?.stats();
  }

  /** Live counters for every stream. */
  stats(): StreamStats[] {
    const now = nowMs();
    return [...this.#streams.values()].map((s) => {
      const c = this.#dropped(s);
      const { source, decoder } = s.source.stats();
      return {
        streamId: s.config.id,
        // The source as StreamSource shows it: an rtsp://user:password@ URL has its password redacted.
        source,
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
        ...(s.video ? { video: { ...s.video } } : {}),
        ...(decoder ? { decoder } : {}),
        // Bounded: an FFmpeg or ORT message can be long, and status reports must stay small.
        ...(s.lastError ? { lastError: s.lastError.slice(0, 1000) } : {}),
      };
    });
  }

  /** Stop every source, wait for frames in flight, close the pool and the sinks. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // A start() still running would open the pool, sinks and sources after this; wait for it first.
    await this.#starting?.catch(() => {});
    clearTimeout(this.#waitTimer);
    // allSettled: one source that fails to close must not keep the pool and the sinks open.
    await this.#control.catch(() => {});
    await Promise.allSettled([...this.#streams.values()].map((s) => s.source.close()));
    const deadline = Date.now() + 5000;
    while (this.#inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await this.#thumbnails.close();
    await this.#metricsServer?.close();
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

  /** Scheduler drops of a stream: those of its current queue plus those of its queues before a stop / start. */
  #dropped(s: StreamRuntime): { droppedOverflow: number; droppedStale: number } {
    const c = s.retired ? undefined : this.#scheduler?.counters(s.config.id);
    return {
      droppedOverflow: s.droppedBase.overflow + (c?.droppedOverflow ?? 0),
      droppedStale: s.droppedBase.stale + (c?.droppedStale ?? 0),
    };
  }

  /**
   * Add a stream and start decoding it at once. The config is validated with the StreamConfig schema (ConfigError
   * naming the bad fields); an id already in use is a ConfigError too; without an id the first free camN is used.
   * Only after start() (rejects before it, and with ClosedError after close()).
   */
  addStream(input: StreamConfigInput): Promise<StreamStats> {
    return this.#controlOp(() => {
      const parsed = StreamConfig.safeParse(input);
      if (!parsed.success) {
        throw new ConfigError(
          'Invalid stream',
          parsed.error.issues.flatMap((i) =>
            i.code === 'unrecognized_keys'
              ? i.keys.map((k) => `${[...i.path, k].join('.')}: unknown field`)
              : [`${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`],
          ),
        );
      }
      const config = parsed.data;
      if (config.id !== undefined && this.#streams.has(config.id)) {
        throw new ConfigError('Invalid stream', [`id: stream "${config.id}" already exists`]);
      }
      let n = this.#streams.size + 1;
      while (config.id === undefined) {
        if (!this.#streams.has(`cam${n}`)) config.id = `cam${n}`;
        n++;
      }
      this.#config = { ...this.#config, streams: [...this.#config.streams, config] };
      return this.#statsOf(this.#launch({ ...config, id: config.id }));
    });
  }

  /**
   * Remove a stream: its source closes, its queued frames are dropped, and its frames still in flight finish but
   * publish nothing. It disappears from stats() and config.streams. Unknown id: SightlineError STREAM_UNKNOWN.
   */
  removeStream(id: string): Promise<void> {
    return this.#controlOp(async () => {
      const s = this.#stream(id);
      await this.#retire(s);
      this.#streams.delete(id);
      this.#thumbnails.forgetStream(id);
      this.#config = { ...this.#config, streams: this.#config.streams.filter((c) => c.id !== id) };
      this.#log.info({ stream: id }, 'stream removed');
      this.#emitSafely('stream-removed', id);
      this.#checkEnd();
    });
  }

  /**
   * Stop a stream: its source closes, its queued frames are dropped (frames in flight publish nothing), and its
   * state becomes 'stopped'. A stopped stream keeps its stats and holds back the runtime's 'end' event.
   * Stopping a stream that is already stopped does nothing. Unknown id: SightlineError STREAM_UNKNOWN.
   */
  stopStream(id: string): Promise<StreamStats> {
    return this.#controlOp(async () => {
      const s = this.#stream(id);
      if (s.state !== 'stopped') {
        // 'stopped' first: the closing source's own state changes are ignored once the stream is retired.
        this.#setState(s, 'stopped');
        await this.#retire(s);
      }
      return this.#statsOf(s);
    });
  }

  /**
   * Start a stopped, ended or failed stream again with a fresh source and a fresh tracker (track ids restart at
   * 1); its counters carry on. State goes starting -> running. A stream that is live already is left alone.
   * Unknown id: SightlineError STREAM_UNKNOWN.
   */
  startStream(id: string): Promise<StreamStats> {
    return this.#controlOp(async () => {
      const old = this.#stream(id);
      if (!['stopped', 'ended', 'failed'].includes(old.state)) return this.#statsOf(old);
      if (this.#poolFailed)
        throw new SightlineError('INFERENCE_FAILED', 'inference stopped for good; restart the edge');
      await this.#retire(old);
      this.#thumbnails.forgetStream(id);
      const s = this.#openStream(old.config, old);
      s.source.start();
      return this.#statsOf(s);
    });
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
    return this.#controlOp(async () => {
      const plan = planConfigChange(this.#config, patch, this.#refs);
      const next = plan.config;
      for (const id of plan.streams.removed) {
        const s = this.#streams.get(id);
        if (!s) continue;
        await this.#retire(s);
        this.#streams.delete(id);
        this.#thumbnails.forgetStream(id);
        this.#emitSafely('stream-removed', id);
      }
      const old = this.#config;
      this.#config = next;
      if (next.inference.maxWaitMs !== old.inference.maxWaitMs)
        this.#scheduler!.maxWaitMs = next.inference.maxWaitMs;
      this.#thumbnails.configure(next.thumbnails);
      const byId = new Map(next.streams.map((c) => [c.id!, c]));
      for (const id of plan.streams.restarted) {
        const prev = this.#streams.get(id);
        if (!prev) continue;
        await this.#retire(prev);
        this.#thumbnails.forgetStream(id);
        // A changed stream is a new stream under the same id: fresh counters.
        this.#launch({ ...byId.get(id)!, id });
      }
      if (plan.trackerChanged) {
        for (const s of this.#streams.values()) {
          if (plan.streams.restarted.includes(s.config.id)) continue;
          s.tracker = createTracker(next.tracker);
          s.activeTracks = 0;
          this.#thumbnails.forgetStream(s.config.id);
        }
      }
      for (const id of plan.streams.added) this.#launch({ ...byId.get(id)!, id });
      if (plan.applied.length) {
        this.#log.info({ applied: plan.applied }, 'config applied');
        try {
          this.emit('config-applied', { applied: plan.applied, config: next });
        } catch (err) {
          this.#log.error({ err: describeError(err) }, "a 'config-applied' listener threw");
        }
        this.#checkEnd();
      }
      return { applied: plan.applied };
    });
  }

  /** Run a control operation after the one before it, once start() has finished. */
  #controlOp<T>(op: () => T | Promise<T>): Promise<T> {
    const run = this.#control.then(async () => {
      if (!this.#started)
        throw new SightlineError('CLOSED', 'EdgeRuntime is not started; call start() first');
      await this.#starting;
      if (this.#closed || !this.#pool || !this.#scheduler) throw new ClosedError('EdgeRuntime');
      return op();
    });
    this.#control = run.catch(() => {});
    return run;
  }

  /** Open a stream added (or replaced) at run time, announce it as 'starting', start its source. */
  #launch(config: StreamConfig & { id: string }): StreamRuntime {
    const s = this.#openStream(config);
    s.source.start();
    try {
      this.emit('stream-state', config.id, 'starting');
    } catch (err) {
      this.#log.error({ err: describeError(err) }, "a 'stream-state' listener threw");
    }
    return s;
  }

  #stream(id: string): StreamRuntime {
    const s = typeof id === 'string' ? this.#streams.get(id) : undefined;
    if (!s) throw new SightlineError('STREAM_UNKNOWN', `no stream "${String(id)}" on edge ${this.edgeId}`);
    return s;
  }

  #statsOf(s: StreamRuntime): StreamStats {
    return this.stats().find((x) => x.streamId === s.config.id)!;
  }

  /**
   * Take a stream's pipeline out of service: its queued frames are dropped, its frames in flight publish nothing
   * when they return, its source closes. The StreamRuntime stays (for stats) until replaced or deleted.
   */
  async #retire(s: StreamRuntime): Promise<void> {
    if (!s.retired) {
      const c = this.#scheduler!.counters(s.config.id);
      s.droppedBase = {
        overflow: s.droppedBase.overflow + c.droppedOverflow,
        stale: s.droppedBase.stale + c.droppedStale,
      };
      s.retired = true;
      this.#scheduler!.removeStream(s.config.id);
      s.inOrder = [];
    }
    await s.source.close();
  }

  /**
   * Create a stream's source, tracker and scheduler queue (not started yet) and register it under its id.
   * `carry`: the stream it replaces after a stop / start, whose counters carry on.
   */
  #openStream(config: StreamConfig & { id: string }, carry?: StreamRuntime): StreamRuntime {
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
      hwaccel: this.config.decoder.hwaccel,
      hwaccelDevice: this.config.decoder.hwaccelDevice,
      policy: this.#sourcePolicy(config.source),
      keepPackets: this.#packets && this.config.decoder.backend === 'node-av',
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
      retired: false,
      sourceFrames: 0,
      droppedBase: carry ? { ...carry.droppedBase } : { overflow: 0, stale: 0 },
      source,
      tracker: createTracker(this.config.tracker),
      meter: carry?.meter ?? new StreamMeter(),
      state: carry?.state ?? 'starting',
      framesDecoded: carry?.framesDecoded ?? 0,
      framesInferred: carry?.framesInferred ?? 0,
      inferErrors: carry?.inferErrors ?? 0,
      reconnects: carry?.reconnects ?? 0,
      activeTracks: 0,
      ...(carry?.lastError ? { lastError: carry.lastError } : {}),
      inOrder: [],
      embedding: false,
      ...(carry?.video ? { video: carry.video } : {}),
    };
    this.#streams.set(config.id, s);
    // A new stream may end again: let 'end' fire once more when every stream is done.
    this.#ended = false;
    // Staleness is a live-stream budget: an unpaced file waits for the pipeline, so its frames never go stale.
    this.#scheduler!.addStream(config.id, {
      capacity: this.config.ringCapacity,
      stalenessMs: config.realtime ? config.stalenessMs : Number.POSITIVE_INFINITY,
    });
    source.on('frame', (frame) => this.#onFrame(s, frame));
    source.on('open', (info) => {
      if (s.retired) return;
      s.video = videoFacts(info);
      this.#emitSafely('stream-info', config.id, info);
    });
    source.on('packet', (packet) => {
      if (s.retired) return;
      // The profile-level-id of a stream whose SPS only comes in band (re-encoded, or RTSP without extradata).
      if (s.video && !s.video.profileLevelId && packet.keyframe) s.video = videoFacts(s.source.info!, packet);
      this.#emitSafely('packet', packet);
    });
    source.on('state', (state, err) => {
      if (!s.retired) this.#setState(s, state, err ? describeError(err) : undefined);
    });
    source.on('error', (err) => {
      if (s.retired) return;
      s.lastError = describeError(err);
      this.#log.warn({ stream: config.id, err: s.lastError }, 'stream error');
    });
    return s;
  }

  /**
   * What a stream's source may open: sources.schemes always; a local file only inside sources.localRoots (default
   * the media folder), unless the operator's config or command line named this very source at start.
   */
  #sourcePolicy(source: string): SourcePolicy {
    const { schemes = SOURCE_SCHEMES, localRoots } = this.config.sources ?? {};
    if (this.#operatorSources.has(source)) return { schemes };
    return { schemes, localRoots: localRoots ?? [mediaDir()] };
  }

  #setState(s: StreamRuntime, state: StreamStats['state'], error?: string): void {
    // Every 'reconnecting' from the source is one failed attempt followed by a retry, also while already reconnecting.
    if (state === 'reconnecting') s.reconnects++;
    if (error) s.lastError = error;
    // Running (again): the source opened, so what went wrong before is over.
    if (state === 'running') delete s.lastError;
    if (s.state === state) return;
    s.state = state;
    this.#log.info({ stream: s.config.id, state, ...(error ? { err: error } : {}) }, 'stream state');
    this.emit('stream-state', s.config.id, state, error);
    if (state === 'ended' || state === 'failed') this.#checkEnd();
  }

  #onFrame(s: StreamRuntime, frame: DecodedFrame): void {
    if (this.#closed || s.retired || s.state === 'ended') return;
    s.framesDecoded++;
    s.sourceFrames++;
    const evicted = this.#scheduler!.push(frame);
    if (evicted) {
      s.source.release();
      this.#emitSafely('frame-dropped', s.config.id, evicted.pts, 'overflow', droppedFrame(evicted));
    }
    const { maxFrames } = s.config;
    if (maxFrames !== undefined && s.sourceFrames >= maxFrames) {
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
      for (const f of decision.stale) {
        this.#streams.get(f.streamId)?.source.release();
        this.#emitSafely('frame-dropped', f.streamId, f.pts, 'stale', droppedFrame(f));
      }
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
      const slot: InOrderSlot = { seq: f.seq, pts: f.pts, frame: droppedFrame(f) };
      if (this.#thumbnails.wants(f.seq)) slot.thumb = true;
      // The pixels go to the detector's worker; re-ID (once the tracker asks) and thumbnails cut their crops
      // from one copy.
      if ((this.#reid && s.tracker.appearanceWanted) || slot.thumb) {
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
    // Decoded down to the live threshold: applyConfig() may have changed detector.confidence or the tracker.
    pool.infer(batch, { confidence: decodeThreshold(this.#config) }).then(
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
    if (s.retired) return;
    this.#releaseHold(s);
    while (!s.embedding && s.inOrder.length && s.inOrder[0]!.done !== undefined) {
      const slot = s.inOrder.shift()!;
      const result = slot.done;
      if (!result) {
        this.#emitSafely('frame-dropped', s.config.id, slot.pts, 'infer-failed', slot.frame);
        continue;
      }
      const reid = this.#reid;
      const wanted = slot.pixels && reid ? s.tracker.appearanceWanted?.(result.detections) : undefined;
      const eligible = wanted && reid ? reid.eligible(result.detections, wanted) : undefined;
      const thumbPixels = slot.thumb ? slot.pixels : undefined;
      if (!reid || !slot.pixels || !eligible?.includes(true)) {
        this.#track(s, result, undefined, thumbPixels);
        continue;
      }
      this.#releaseHold(s);
      s.embedding = true;
      this.#inflight++;
      const t0 = nowMs();
      reid.appearance(slot.pixels, result.detections, eligible).then(
        (appearance) => this.#afterEmbedding(s, result, t0, appearance, thumbPixels),
        (err: unknown) => {
          if (!(err instanceof ClosedError))
            this.#reidFailures.failed(s.config.id, err, { stream: s.config.id });
          this.#afterEmbedding(s, result, t0, undefined, thumbPixels);
        },
      );
      return;
    }
  }

  /** Let the scheduler send this stream's frames again once few enough are dispatched but untracked. */
  #releaseHold(s: StreamRuntime): void {
    if (s.inOrder.length < this.#maxUntracked) this.#scheduler?.hold(s.config.id, false);
  }

  #afterEmbedding(
    s: StreamRuntime,
    result: FrameResult,
    t0: number,
    appearance?: Appearance,
    thumbPixels?: CropSource,
  ): void {
    s.embedding = false;
    this.#inflight--;
    result.timings.embedMs = nowMs() - t0;
    // Also while closing: close() waits for frames in flight and the sinks are still open.
    try {
      // A stream removed, stopped or restarted meanwhile publishes nothing more from its old pipeline.
      if (!s.retired) this.#track(s, result, appearance, thumbPixels);
      this.#drainInOrder(s);
    } catch (err) {
      this.#log.error({ stream: s.config.id, err: describeError(err) }, 'tracking failed');
    }
    this.#pump();
    this.#checkEnd();
  }

  /** Track one frame's detections, publish the result to the sinks and listeners, offer it for thumbnails. */
  #track(s: StreamRuntime, result: FrameResult, appearance?: Appearance, thumbPixels?: CropSource): void {
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
    if (thumbPixels) {
      try {
        this.#thumbnails.offer(thumbPixels, result);
      } catch (err) {
        this.#log.error({ stream: s.config.id, err: describeError(err) }, 'thumbnail crop failed');
      }
    }
  }

  /** Emit an event; a listener that throws is logged, never breaks the pipeline. */
  #emitSafely<K extends 'stream-info' | 'packet' | 'frame-dropped' | 'stream-removed' | 'keyframe-wanted'>(
    event: K,
    ...args: EdgeRuntimeEvents[K]
  ): void {
    try {
      this.emit(event, ...args);
    } catch (err) {
      this.#log.error({ err: describeError(err) }, `a '${event}' listener threw`);
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
    // No stream at all (every one removed) is not an end: streams may be added again.
    if (this.#streams.size === 0) return;
    for (const s of this.#streams.values()) if (s.state !== 'ended' && s.state !== 'failed') return;
    this.#ended = true;
    // A failed flush (e.g. disk full) is logged, never an unhandled rejection; 'end' still fires.
    Promise.all(this.#sinks.map((s) => s.flush()))
      .catch((err: unknown) => this.#log.error({ err: describeError(err) }, 'sink flush failed'))
      .then(() => this.emit('end'));
  }
}
