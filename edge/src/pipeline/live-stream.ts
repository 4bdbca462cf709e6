/**
 * One stream of the runtime as it runs: its source, its per-stream core, its state and counters. It turns the
 * source's events into calls of a listener (the runtime) and assembles the stream's stats; scheduling, inference
 * and publishing are the runtime's.
 */
import {
  describeError,
  type EdgeConfig,
  SOURCE_SCHEMES,
  SourceError,
  type StreamConfig,
  type StreamStats,
  type StreamVideo,
} from '@sightline/shared';
import type { DecodedFrame, EncodedPacket } from '../frame.ts';
import { videoFacts } from '../h264/video-facts.ts';
import { mediaDir } from '../models/manifest.ts';
import { checkSourceScheme, resolveLocalSource, type SourcePolicy } from '../sources/source-policy.ts';
import { parseSourceUrl } from '../sources/source-url.ts';
import { type StreamInfo, StreamSource, type StreamSourceOptions } from '../sources/stream-source.ts';
import { streamStages } from '../stages/post-stages.ts';
import type { StreamCore } from './stream-core.ts';

/** A stream's config with its id filled in. */
export type StreamConfigWithId = StreamConfig & { id: string };

export type StreamState = StreamStats['state'];

/** Scheduler drops of a stream. */
export interface DropCounters {
  droppedOverflow: number;
  droppedStale: number;
}

/** What a live stream tells the runtime; nothing is called for a retired stream. */
export interface LiveStreamListener {
  /** A decoded frame (also for a retired stream: the runtime ignores it). */
  frame(stream: LiveStream, frame: DecodedFrame): void;
  /** The source changed state (or failed to reconnect once more), with what went wrong. */
  state(stream: LiveStream, state: StreamState, error?: string): void;
  /** The source opened (again). */
  info(stream: LiveStream, info: StreamInfo): void;
  /** A compressed packet (with enablePackets()). */
  packet(stream: LiveStream, packet: EncodedPacket): void;
  /** The source reported an error (kept as lastError). */
  error(stream: LiveStream, message: string): void;
}

/**
 * What a stream's source may open: sources.schemes always; a local file only inside sources.localRoots (default
 * the media folder), unless the operator's config or command line named this very source at start
 * (`operatorSources`).
 */
export function sourcePolicy(
  edge: EdgeConfig,
  operatorSources: ReadonlySet<string>,
  source: string,
): SourcePolicy {
  const { schemes = SOURCE_SCHEMES, localRoots } = edge.sources ?? {};
  if (operatorSources.has(source)) return { schemes };
  return { schemes, localRoots: localRoots ?? [mediaDir()] };
}

/** Why the policy of sourcePolicy() refuses `source` now, or undefined (a source that does not parse is left to its stream). */
export async function sourceRefusal(
  edge: EdgeConfig,
  operatorSources: ReadonlySet<string>,
  source: string,
): Promise<SourceError | undefined> {
  const policy = sourcePolicy(edge, operatorSources, source);
  const scheme = checkSourceScheme(source, policy);
  if (scheme) return scheme;
  let parsed: ReturnType<typeof parseSourceUrl>;
  try {
    parsed = parseSourceUrl(source);
  } catch {
    return undefined;
  }
  if (parsed.kind !== 'file') return undefined;
  const local = await resolveLocalSource(parsed.input, parsed.display, policy);
  return local instanceof SourceError ? local : undefined;
}

/**
 * The box frames are decoded to fit in: the detector's input for letterbox models (it would scale them down
 * anyway), but with re-ID on, up to reid.frameHeight tall so person crops keep their detail.
 */
export function decodeFit(o: {
  reidFrameHeight: number | undefined;
  letterbox: boolean;
  inputSize: { width: number; height: number };
}): { width: number; height: number } | undefined {
  if (o.reidFrameHeight !== undefined) return { width: 8192, height: o.reidFrameHeight };
  return o.letterbox ? o.inputSize : undefined;
}

/** The source options of a stream of this edge: decoder settings, pacing window, decode size and policy. */
export function streamSourceOptions(
  edge: EdgeConfig,
  stream: StreamConfigWithId,
  extra: {
    /** The box frames are decoded to fit in (undefined: source size). */
    fit?: { width: number; height: number };
    policy: SourcePolicy;
    /** The source emits its compressed packets. */
    keepPackets: boolean;
    /** Frames one inference call takes. */
    maxBatch: number;
  },
): StreamSourceOptions {
  const { decoder, inference } = edge;
  return {
    streamId: stream.id,
    url: stream.source,
    loop: stream.loop,
    realtime: stream.realtime,
    fit: extra.fit,
    backend: decoder.backend,
    ffmpegPath: decoder.ffmpegPath,
    threads: decoder.threads,
    hwaccel: decoder.hwaccel,
    hwaccelDevice: decoder.hwaccelDevice,
    policy: extra.policy,
    // The enhance stage runs in the decode worker, on the frames every other stage sees.
    ...(edge.enhance && streamStages(edge, stream).includes('enhance') ? { enhance: edge.enhance } : {}),
    keepPackets: extra.keepPackets && decoder.backend === 'node-av',
    // An unpaced file waits for the pipeline instead of dropping; keep enough queued to fill a batch and
    // feed every session, and no more (more would only add queueing latency).
    window: Math.min(
      edge.ringCapacity,
      Math.max(4, extra.maxBatch + 2 * inference.sessions * inference.inflightPerSession),
    ),
  };
}

export class LiveStream {
  readonly config: StreamConfigWithId;
  readonly source: StreamSource;
  readonly core: StreamCore;
  state: StreamState;
  /** Frames decoded, across restarts. */
  framesDecoded: number;
  /** Frames decoded by this source (maxFrames counts these). */
  sourceFrames = 0;
  reconnects: number;
  lastError?: string;
  /** What is published of this stream's video (from its stream info and first SPS), once known. */
  video?: StreamVideo;
  /** Scheduler drops of this stream's earlier queues (before a stop / start), so the counters never go back. */
  droppedBase: { overflow: number; stale: number };
  #retired = false;

  /**
   * `carry`: the stream this one replaces after a stop / start, whose counters carry on. The source is not
   * started (start() it once registered).
   */
  constructor(options: {
    config: StreamConfigWithId;
    source: StreamSourceOptions;
    core: StreamCore;
    listener: LiveStreamListener;
    carry?: LiveStream;
  }) {
    const { config, core, listener, carry } = options;
    this.config = config;
    this.core = core;
    this.state = carry?.state ?? 'starting';
    this.framesDecoded = carry?.framesDecoded ?? 0;
    this.reconnects = carry?.reconnects ?? 0;
    if (carry?.lastError) this.lastError = carry.lastError;
    if (carry?.video) this.video = carry.video;
    this.droppedBase = carry ? { ...carry.droppedBase } : { overflow: 0, stale: 0 };
    const source = new StreamSource(options.source);
    this.source = source;
    source.on('frame', (frame) => listener.frame(this, frame));
    source.on('open', (info) => {
      if (this.#retired) return;
      this.video = videoFacts(info);
      listener.info(this, info);
    });
    source.on('packet', (packet) => {
      if (this.#retired) return;
      // The profile-level-id of a stream whose SPS only comes in band (re-encoded, or RTSP without extradata).
      if (this.video && !this.video.profileLevelId && packet.keyframe)
        this.video = videoFacts(source.info!, packet);
      listener.packet(this, packet);
    });
    source.on('state', (state, err) => {
      if (!this.#retired) listener.state(this, state, err ? describeError(err) : undefined);
    });
    source.on('error', (err) => {
      if (this.#retired) return;
      this.lastError = describeError(err);
      listener.error(this, this.lastError);
    });
  }

  get id(): string {
    return this.config.id;
  }

  /** Set when the stream was removed, stopped or restarted: its frames still in flight are dropped when they return. */
  get retired(): boolean {
    return this.#retired;
  }

  /**
   * Apply a state change: every 'reconnecting' counts one failed attempt (also while already reconnecting), an
   * error is kept as lastError, 'running' clears it. True when the state changed.
   */
  setState(state: StreamState, error?: string): boolean {
    if (state === 'reconnecting') this.reconnects++;
    if (error) this.lastError = error;
    // Running (again): the source opened, so what went wrong before is over.
    if (state === 'running') delete this.lastError;
    if (this.state === state) return false;
    this.state = state;
    return true;
  }

  /** Scheduler drops: those of the current queue (`current`, none once retired) plus those of earlier ones. */
  dropped(current: DropCounters | undefined): DropCounters {
    const c = this.#retired ? undefined : current;
    return {
      droppedOverflow: this.droppedBase.overflow + (c?.droppedOverflow ?? 0),
      droppedStale: this.droppedBase.stale + (c?.droppedStale ?? 0),
    };
  }

  /** Live counters, with the scheduler's drops of the current queue. */
  stats(current: DropCounters | undefined, now: number): StreamStats {
    const c = this.dropped(current);
    const { source, decoder } = this.source.stats();
    const core = this.core;
    return {
      streamId: this.config.id,
      // The source as StreamSource shows it: an rtsp://user:password@ URL has its password redacted.
      source,
      state: this.state,
      framesDecoded: this.framesDecoded,
      framesInferred: core.framesInferred,
      droppedOverflow: c.droppedOverflow,
      droppedStale: c.droppedStale,
      inferErrors: core.inferErrors,
      fps: core.meter.fps(now),
      latencyP50Ms: core.meter.percentile(50),
      latencyP95Ms: core.meter.percentile(95),
      activeTracks: core.activeTracks,
      reconnects: this.reconnects,
      ...(this.video ? { video: { ...this.video } } : {}),
      ...(decoder ? { decoder } : {}),
      // Bounded: an FFmpeg or ORT message can be long, and status reports must stay small.
      ...(this.lastError ? { lastError: this.lastError.slice(0, 1000) } : {}),
    };
  }

  /**
   * Take the stream out of service: its scheduler drops so far (`current`) are kept, its frames in flight publish
   * nothing when they return, its source closes. The stream stays (for stats) until replaced or deleted.
   */
  async retire(current: DropCounters | undefined): Promise<void> {
    if (!this.#retired) {
      this.droppedBase = {
        overflow: this.droppedBase.overflow + (current?.droppedOverflow ?? 0),
        stale: this.droppedBase.stale + (current?.droppedStale ?? 0),
      };
      this.#retired = true;
      this.core.retire();
    }
    await this.source.close();
  }
}
