/** StreamSource options: meaning, checks (errors name the option), and the decode session they ask for. */
import type { Logger } from '@sightline/shared';
import type { BackoffOptions } from '../net/backoff.ts';
import type { Size } from './fit.ts';
import type { EnhanceSettings } from './frame-enhance.ts';
import { checkHwaccelOptions, type Hwaccel } from './hwaccel.ts';
import type { SessionRequest } from './protocol.ts';
import type { SourcePolicy } from './source-policy.ts';
import type { ParsedSource } from './source-url.ts';

export interface StreamSourceOptions {
  /** Stream id put on every frame and packet. Required. */
  streamId: string;
  /** A file path, file:// URL, rtsp:// or rtsps:// URL (always live), http(s):// URL, or whip://<id> (live). Required. */
  url: string;
  /** Files and HTTP: start again at the end, keeping seq and pts increasing. Default false. */
  loop?: boolean;
  /** Files and HTTP: pace frames at their native rate like a camera (RTSP is always live). Default true. */
  realtime?: boolean;
  /** Scale frames down to fit inside this box, keeping the aspect ratio, never upscaling. Default: full size. */
  fit?: Size;
  /** Unpaced files and HTTP: most frames emitted but not yet release()d before decoding waits. Default 8. */
  window?: number;
  /** Also emit the demuxed compressed packets (node-av backend only). Default false. */
  keepPackets?: boolean;
  /** Network sources: delays between reconnect attempts. Default 500 ms doubling to 10 s, +-20 % jitter. */
  reconnect?: BackoffOptions;
  /** Network sources: connect / read timeout in ms (FFmpeg timeout, rw_timeout). Default 5000. */
  openTimeoutMs?: number;
  /** Decoder threads per stream, 0 = FFmpeg decides. Default 1. */
  threads?: number;
  /** node-av (FFmpeg libraries in a worker thread) or ffmpeg (a system ffmpeg subprocess). Default node-av. */
  backend?: 'node-av' | 'ffmpeg';
  /** The ffmpeg executable for backend 'ffmpeg' (ffprobe is looked up beside it). Default "ffmpeg". */
  ffmpegPath?: string;
  /**
   * Hardware decoding: auto (cuda then vaapi on Linux, videotoolbox on macOS), cuda (NVDEC), vaapi, videotoolbox,
   * or none. When the device cannot be opened or has no decoder for the codec, the stream decodes in software and
   * says why in one log line (info for auto, warn otherwise). Default none.
   */
  hwaccel?: Hwaccel;
  /** The hwaccel device: a CUDA GPU index ("1"), a VA-API render node ("/dev/dri/renderD129"). Default: FFmpeg's. */
  hwaccelDevice?: string;
  /** Logger for this stream's lines (tagged component stream-source and streamId). Default: the process logger. */
  logger?: Logger;
  /**
   * Schemes and local folders this source may use; outside them it fails with SOURCE_REFUSED before anything is
   * opened. Default: none (any supported source).
   */
  policy?: SourcePolicy;
  /** The enhance stage: denoise / white balance / contrast on each frame in the decode worker (node-av only). Default: none. */
  enhance?: EnhanceSettings;
}

/** `value` as a positive (or, with allowZero, non-negative) integer; RangeError naming `name` otherwise. */
export function positiveInt(name: string, value: unknown, allowZero = false): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < (allowZero ? 0 : 1)) {
    const what = allowZero ? 'a non-negative integer' : 'a positive integer';
    throw new RangeError(
      `Expected ${what} for ${name} but received ${String(value)} of type ${typeof value}`,
    );
  }
  return value;
}

function bool(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean')
    throw new TypeError(
      `Expected a boolean for ${name} but received ${String(value)} of type ${typeof value}`,
    );
  return value;
}

/** The checked options a StreamSource keeps (defaults filled in). */
export interface StreamSourceSettings {
  streamId: string;
  url: string;
  loop: boolean;
  realtime: boolean;
  keepPackets: boolean;
  window: number;
  openTimeoutMs: number;
  threads: number;
  fit?: Size;
  backend: 'node-av' | 'ffmpeg';
  hwaccel: Hwaccel;
  hwaccelDevice?: string;
  enhance?: EnhanceSettings;
}

/** Check StreamSource's options, in order, throwing a TypeError / RangeError that names the first bad one. */
export function checkStreamSourceOptions(options: StreamSourceOptions): StreamSourceSettings {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(
      `Expected an options object but received ${String(options)} of type ${typeof options}`,
    );
  }
  const { streamId } = options;
  if (typeof streamId !== 'string' || streamId === '') {
    throw new TypeError(
      `Expected a non-empty string for streamId but received ${String(streamId)} of type ${typeof streamId}`,
    );
  }
  if (typeof options.url !== 'string' || options.url.trim() === '') {
    throw new TypeError(
      `Expected a non-empty string for url but received ${String(options.url)} of type ${typeof options.url}`,
    );
  }
  const loop = bool('loop', options.loop, false);
  const realtime = bool('realtime', options.realtime, true);
  const keepPackets = bool('keepPackets', options.keepPackets, false);
  const window = positiveInt('window', options.window ?? 8);
  const openTimeoutMs = positiveInt('openTimeoutMs', options.openTimeoutMs ?? 5000);
  const threads = positiveInt('threads', options.threads ?? 1, true);
  if (options.fit !== undefined) {
    positiveInt('fit.width', options.fit?.width);
    positiveInt('fit.height', options.fit?.height);
  }
  const backend = options.backend ?? 'node-av';
  if (backend !== 'node-av' && backend !== 'ffmpeg') {
    throw new TypeError(
      `Expected "node-av" or "ffmpeg" for backend but received ${String(backend)} of type ${typeof backend}`,
    );
  }
  if (backend === 'ffmpeg' && keepPackets) {
    throw new RangeError(
      'keepPackets needs the node-av backend; the ffmpeg backend only delivers decoded frames',
    );
  }
  const hwaccel = checkHwaccelOptions(options);
  const { hwaccelDevice, enhance } = options;
  if (enhance !== undefined && backend === 'ffmpeg') {
    throw new RangeError('enhance needs the node-av backend; the ffmpeg backend decodes in another process');
  }
  return {
    streamId,
    url: options.url,
    loop,
    realtime,
    keepPackets,
    window,
    openTimeoutMs,
    threads,
    ...(options.fit ? { fit: { width: options.fit.width, height: options.fit.height } } : {}),
    backend,
    hwaccel,
    ...(hwaccelDevice ? { hwaccelDevice } : {}),
    ...(enhance ? { enhance: { ...enhance } } : {}),
  };
}

/** The decode session a parsed source asks for: live sources (RTSP, WHIP) never loop, pace or wait. */
export function sessionRequest(p: ParsedSource, o: StreamSourceSettings): SessionRequest {
  const live = p.kind === 'rtsp' || p.kind === 'whip';
  return {
    input: p.input,
    display: p.display,
    network: p.network,
    rtsp: p.kind === 'rtsp',
    loop: o.loop && !live,
    realtime: o.realtime && !live,
    window: live || o.realtime ? 0 : o.window,
    fit: o.fit ? { width: o.fit.width, height: o.fit.height } : undefined,
    keepPackets: o.keepPackets,
    openTimeoutMs: o.openTimeoutMs,
    threads: o.threads,
    hwaccel: o.hwaccel,
    ...(o.hwaccelDevice ? { hwaccelDevice: o.hwaccelDevice } : {}),
    ...(p.options ? { options: p.options } : {}),
    ...(o.enhance ? { enhance: o.enhance } : {}),
  };
}
