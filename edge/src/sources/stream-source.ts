/** StreamSource: one camera or file as typed events of BGR24 frames, with reconnects, pacing and backpressure. */
import { stat } from 'node:fs/promises';
import {
  childLogger,
  describeError,
  type Logger,
  nowMs,
  PTS_CLOCK_HZ,
  SourceError,
  TypedEmitter,
} from '@sightline/shared';
import type { DecodedFrame, EncodedPacket } from '../frame.ts';
import { Backoff } from '../net/backoff.ts';
import { FfmpegBackend } from './ffmpeg-source.ts';
import { decoderChoiceLog } from './hwaccel.ts';
import type {
  Backend,
  BackendMessage,
  DecoderChoice,
  ErrorInfo,
  SessionRequest,
  StreamInfo,
} from './protocol.ts';
import { explainRtspOpen } from './rtsp-probe.ts';
import { checkSourceScheme, resolveLocalSource, type SourcePolicy } from './source-policy.ts';
import { type ParsedSource, parseSourceUrl, redactUrl } from './source-url.ts';
import {
  checkStreamSourceOptions,
  positiveInt,
  type StreamSourceOptions,
  sessionRequest,
} from './stream-source-options.ts';
import { WorkerBackend } from './worker-backend.ts';

/** Shortest time between two keyframes forced on a re-encoded stream (a burst of viewers' PLIs makes one). */
export const KEYFRAME_INTERVAL_MS = 500;

export type { StreamInfo } from './protocol.ts';
export type { StreamSourceOptions } from './stream-source-options.ts';

/** Lifecycle of a source; 'ended' and 'failed' are final. */
export type SourceState = 'starting' | 'running' | 'reconnecting' | 'ended' | 'failed';

export type StreamSourceEvents = {
  /** The stream was opened (again after each reconnect). */
  open: [info: StreamInfo];
  /** A decoded frame; call release() when done with it (it opens the backpressure window). */
  frame: [frame: DecodedFrame];
  /** A compressed packet (only with keepPackets). */
  packet: [packet: EncodedPacket];
  /** A state change; `error` says why for 'reconnecting' and 'failed', `retryInMs` is the wait before the next attempt. */
  state: [state: SourceState, error?: SourceError, retryInMs?: number];
  /** A problem; fatal for files (state 'failed' follows), non-fatal for network sources that retry. */
  error: [error: SourceError];
  /** A file source reached its end (not emitted on close()). */
  end: [];
  /** close() finished. */
  close: [];
};

export interface StreamSourceStats {
  streamId: string;
  /** The source with any password redacted. */
  source: string;
  state: SourceState;
  frames: number;
  packets: number;
  reconnects: number;
  /** Corrupt packets skipped (reported as DECODE_FAILED warnings). */
  decodeErrors: number;
  /** Frames emitted but not yet released. */
  inFlight: number;
  /** Frames per second over the last few seconds. */
  fps: number;
  /** The decoder in use, e.g. "h264 (software)" or "h264 (cuda)"; undefined until the stream is first opened. */
  decoder?: string;
  /** The last problem since the stream last opened; cleared when it opens again (a reconnect succeeded). */
  lastError?: string;
}

/** Frame timestamps kept for the fps estimate. */
const FPS_WINDOW = 30;

/** Reads one video source and emits its frames (BGR24) and optionally its packets. */
export class StreamSource extends TypedEmitter<StreamSourceEvents> {
  readonly streamId: string;
  readonly #url: string;
  readonly #parsed: ParsedSource | undefined;
  readonly #parseError: SourceError | undefined;
  #request: SessionRequest | undefined;
  readonly #policy: SourcePolicy | undefined;
  readonly #backendKind: 'node-av' | 'ffmpeg';
  readonly #ffmpegPath: string;
  readonly #backoff: Backoff;
  readonly #log: Logger;
  #backend: Backend | undefined;
  #state: SourceState = 'starting';
  #started = false;
  #closed = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #info: StreamInfo | undefined;
  #decoder: string | undefined;
  /** The hwaccel outcome last logged ("decoder|fallback"), so each stream logs it once. */
  #hwLogged: string | undefined;
  #lastKeyframeRequest = Number.NEGATIVE_INFINITY;
  // Counters and clocks.
  #seq = 0;
  #packets = 0;
  #reconnects = 0;
  #decodeErrors = 0;
  #inFlight = 0;
  #lastError: SourceError | undefined;
  #times: number[] = [];
  /** Added to backend pts so every session continues the previous one's clock. */
  #ptsOffset = 0;
  #sessionFirst = true;
  #lastPts = -1;
  #lastFrameAt = 0;
  #frameTicks = 3000;
  /** When the current session was asked to open (nowMs). */
  #openedAt = 0;

  constructor(options: StreamSourceOptions) {
    super();
    const settings = checkStreamSourceOptions(options);
    const { streamId } = settings;
    this.streamId = streamId;
    this.#url = settings.url;
    this.#backendKind = settings.backend;
    this.#ffmpegPath = options.ffmpegPath ?? 'ffmpeg';
    this.#backoff = new Backoff(options.reconnect);
    this.#log = options.logger
      ? options.logger.child({ component: 'stream-source', streamId })
      : childLogger('stream-source', { streamId });
    this.#policy = options.policy;
    // A refused or bad source is reported through 'error' + 'failed' on start(), like any other bad source.
    this.#parseError = this.#policy && checkSourceScheme(options.url, this.#policy);
    try {
      if (!this.#parseError) this.#parsed = parseSourceUrl(options.url);
    } catch (err) {
      if (!(err instanceof SourceError)) throw err;
      this.#parseError = err;
    }
    if (this.#parsed) this.#request = sessionRequest(this.#parsed, settings);
  }

  /** Current lifecycle state. */
  get state(): SourceState {
    return this.#state;
  }

  /** The latest stream facts (undefined until the first 'open'). */
  get info(): StreamInfo | undefined {
    return this.#info;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Begin reading. Problems arrive as 'error' / 'state' events, never as a throw. Calling it twice does nothing. */
  start(): this {
    if (this.#started || this.#closed) return this;
    this.#started = true;
    this.#setState('starting');
    void this.#connect();
    return this;
  }

  /** The consumer is done with `count` frames; lets an unpaced file decode further. */
  release(count = 1): void {
    positiveInt('count', count);
    const n = Math.min(count, this.#inFlight);
    if (n === 0) return;
    this.#inFlight -= n;
    this.#backend?.release(n);
  }

  /**
   * A viewer needs a keyframe (an RTCP PLI reached the publisher). A re-encoded stream makes its next frame an
   * IDR, at most once per KEYFRAME_INTERVAL_MS; a stream whose packets go out as the camera sent them answers at
   * its next keyframe, so this does nothing. True when the request was passed on.
   */
  requestKeyframe(now = Date.now()): boolean {
    if (!this.#info?.transcoded || !this.#backend?.requestKeyframe) return false;
    if (now - this.#lastKeyframeRequest < KEYFRAME_INTERVAL_MS) return false;
    this.#lastKeyframeRequest = now;
    this.#backend.requestKeyframe();
    return true;
  }

  stats(): StreamSourceStats {
    const t = this.#times;
    const span = t.length > 1 ? (t[t.length - 1]! - t[0]!) / 1000 : 0;
    return {
      streamId: this.streamId,
      source: this.#parsed?.display ?? redactUrl(this.#url),
      state: this.#state,
      frames: this.#seq,
      packets: this.#packets,
      reconnects: this.#reconnects,
      decodeErrors: this.#decodeErrors,
      inFlight: this.#inFlight,
      fps: span > 0 && nowMs() - t[t.length - 1]! < 2000 ? (t.length - 1) / span : 0,
      decoder: this.#decoder,
      lastError: this.#lastError ? describeError(this.#lastError) : undefined,
    };
  }

  /** Stop reading and end the decode worker / subprocess. Safe to call twice and during a reconnect wait. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    const backend = this.#backend;
    this.#backend = undefined;
    await backend?.close();
    this.emit('close');
  }

  #setState(state: SourceState, error?: SourceError, retryInMs?: number): void {
    this.#state = state;
    this.emit('state', state, error, retryInMs);
  }

  #report(error: SourceError): void {
    this.#lastError = error;
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else this.#log.warn({ code: error.code }, error.message);
  }

  async #connect(): Promise<void> {
    await new Promise(setImmediate); // let the caller attach listeners after start()
    if (this.#closed) return;
    if (this.#parseError) return this.#fail(this.#parseError);
    const p = this.#parsed!;
    if (p.kind === 'file' && this.#policy) {
      // Outside the allowed folders: refused, with one message whether the file exists or not.
      const path = await resolveLocalSource(p.input, p.display, this.#policy);
      if (this.#closed) return;
      if (path instanceof SourceError) return this.#fail(path);
      this.#request = { ...this.#request!, input: path };
    }
    if (p.kind === 'file') {
      // Check here so a missing file or a directory gets a plain message without starting a worker.
      try {
        const s = await stat(this.#request!.input);
        if (s.isDirectory()) {
          return this.#fail(
            new SourceError('SOURCE_INVALID', `${p.display} is a directory, not a media file`),
          );
        }
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const message =
          code === 'ENOENT'
            ? `No such file: ${p.display}`
            : `Cannot read ${p.display}: ${(err as Error).message}`;
        return this.#fail(new SourceError('SOURCE_INVALID', message, { cause: err }));
      }
    }
    if (this.#closed) return;
    this.#backend ??=
      this.#backendKind === 'ffmpeg'
        ? new FfmpegBackend(this.#ffmpegPath, (m) => this.#onMessage(m))
        : new WorkerBackend(
            `decode-${this.streamId}`,
            (m) => this.#onMessage(m),
            this.#request!.openTimeoutMs + 2000,
          );
    this.#sessionFirst = true;
    this.#openedAt = nowMs();
    this.#backend.open(this.#request!);
  }

  #fail(error: SourceError): void {
    if (this.#closed) return;
    this.#report(error);
    this.#setState('failed', error);
    void this.#backend?.close();
    this.#backend = undefined;
  }

  #onMessage(m: BackendMessage): void {
    if (this.#closed) return;
    switch (m.type) {
      case 'info':
        this.#info = m.info;
        if (m.info.fps > 0) this.#frameTicks = Math.round(PTS_CLOCK_HZ / m.info.fps);
        this.#backoff.reset();
        this.#lastError = undefined; // opened (again): earlier problems are over
        this.emit('open', m.info);
        if (this.#state !== 'running') this.#setState('running');
        return;
      case 'decoder':
        this.#onDecoder(m);
        return;
      case 'frame':
        this.#onFrame(m);
        return;
      case 'packet': {
        this.#packets++;
        const packet: EncodedPacket = {
          streamId: this.streamId,
          codec: m.codec,
          data: new Uint8Array(m.data),
          pts: this.#mapPts(m.pts),
          dts: m.dts + this.#ptsOffset,
          keyframe: m.keyframe,
        };
        this.emit('packet', packet);
        return;
      }
      case 'warning':
        this.#decodeErrors++;
        this.#report(new SourceError(m.error.code, m.error.message));
        return;
      case 'done':
        this.#onDone(m.outcome, m.error);
        return;
    }
  }

  /** The backend chose a decoder: kept for stats, and its log line written once per stream. */
  #onDecoder(m: DecoderChoice): void {
    this.#decoder = m.decoder;
    if (this.#info) this.#info = { ...this.#info, decoder: m.decoder };
    const log = decoderChoiceLog(m);
    const key = `${m.decoder}|${m.fallback ?? ''}`;
    if (!log || key === this.#hwLogged) return;
    this.#hwLogged = key;
    this.#log[log.level](log.fields, log.line);
  }

  /** Session pts -> stream pts; the first timestamp of a new session continues after the last one emitted. */
  #mapPts(pts: number): number {
    if (this.#sessionFirst) {
      this.#sessionFirst = false;
      if (this.#lastPts >= 0) {
        const gap = Math.round((nowMs() - this.#lastFrameAt) * (PTS_CLOCK_HZ / 1000));
        this.#ptsOffset = this.#lastPts + Math.max(this.#frameTicks, gap) - pts;
      }
    }
    return pts + this.#ptsOffset;
  }

  #onFrame(m: Extract<BackendMessage, { type: 'frame' }>): void {
    let pts = this.#mapPts(m.pts);
    if (pts <= this.#lastPts) pts = this.#lastPts + 1;
    this.#lastPts = pts;
    this.#lastFrameAt = m.capturedAt;
    this.#inFlight++;
    this.#times.push(m.capturedAt);
    if (this.#times.length > FPS_WINDOW) this.#times.shift();
    const frame: DecodedFrame = {
      streamId: this.streamId,
      seq: this.#seq++,
      pts,
      data: new Uint8Array(m.pixels),
      width: m.width,
      height: m.height,
      sourceWidth: m.sourceWidth,
      sourceHeight: m.sourceHeight,
      capturedAt: m.capturedAt,
      decodeMs: m.decodeMs,
    };
    this.emit('frame', frame);
  }

  #onDone(outcome: 'eof' | 'error' | 'stopped', info: ErrorInfo | undefined): void {
    if (outcome === 'stopped' || this.#closed) return;
    if (info?.diagnose) {
      // FFmpeg said only "Invalid data" for an RTSP open: find out what the server did, then go on with that.
      const elapsedMs = info.diagnose.elapsedMs ?? nowMs() - this.#openedAt;
      void explainRtspOpen(info, this.#request!, elapsedMs).then((why) => this.#onDone(outcome, why));
      return;
    }
    const p = this.#parsed!;
    const error = info ? new SourceError(info.code, info.message) : undefined;
    if (!p.network || (p.kind === 'http' && outcome === 'eof')) {
      if (error) {
        this.#fail(error);
        return;
      }
      this.#setState('ended');
      this.emit('end');
      void this.#backend?.close();
      this.#backend = undefined;
      return;
    }
    // Network: report, then try again with a growing delay until closed.
    const why = error ?? new SourceError('SOURCE_UNREACHABLE', `${p.display} ended the stream`);
    this.#report(why);
    const delay = this.#backoff.next();
    this.#setState('reconnecting', why, delay);
    this.#retryTimer = setTimeout(() => {
      if (this.#closed) return;
      this.#reconnects++;
      void this.#connect();
    }, delay);
  }
}
