/** Messages between a StreamSource and its decode backend (worker thread or ffmpeg subprocess). */
import type { ErrorCode } from '@sightline/shared';
import type { Hwaccel } from '@sightline/shared/decoder';
import type { Size } from './fit.ts';
import type { EnhanceSettings } from './frame-enhance.ts';

/** A concrete hardware device type (FFmpeg's name for it). */
export type HwDevice = Exclude<Hwaccel, 'auto' | 'none'>;

/** What a backend is asked to open. */
export interface SessionRequest {
  /** Path or URL as FFmpeg opens it. */
  input: string;
  /** The source as shown in messages (password redacted). */
  display: string;
  network: boolean;
  /** RTSP: force TCP interleaving. */
  rtsp: boolean;
  /** Restart at the end (files and HTTP). */
  loop: boolean;
  /** Pace frames at their timestamps. */
  realtime: boolean;
  /** Max posted-but-unreleased frames; 0 = unlimited. */
  window: number;
  fit?: Size;
  keepPackets: boolean;
  openTimeoutMs: number;
  threads: number;
  /** Hardware decoding to try (falls back to software). Default none. */
  hwaccel?: Hwaccel;
  /** The hardware device: a CUDA GPU index, a VA-API render node such as /dev/dri/renderD128. Default: FFmpeg's choice. */
  hwaccelDevice?: string;
  /** Extra FFmpeg input options; when given they replace the defaults for network sources (whip: SDP over UDP). */
  options?: Record<string, string | number>;
  /** The enhance stage, applied to each frame after scaling (its time counts in decodeMs). Default: none. */
  enhance?: EnhanceSettings;
}

/** Stream facts announced once per (re)connection. */
export interface StreamInfo {
  /** FFmpeg codec name, e.g. "h264". */
  codec: string;
  /** RFC 6381 codec string, e.g. "avc1.4d401f" (for WebRTC / MSE), when known. */
  codecString?: string;
  width: number;
  height: number;
  /** Nominal frames per second (0 when unknown). */
  fps: number;
  /** The container's time base for this stream. */
  timeBase: { num: number; den: number };
  /** Codec profile name and number, e.g. "Main" / 77 (H.264), when known. */
  profile?: string;
  profileId?: number;
  /** Codec level, e.g. 31 for H.264 level 3.1, when known. */
  level?: number;
  /** Codec extradata (H.264 avcC record from MP4, Annex-B SPS/PPS from RTSP); empty when none or unknown. */
  extradata: Uint8Array;
  /** The stream reorders frames (B-frames), so dts != pts. */
  hasBFrames: boolean;
  /** Size of the frames that will be emitted (after fit). */
  outputWidth: number;
  outputHeight: number;
  /** Which backend decodes. */
  backend: 'node-av' | 'ffmpeg';
  /** The decoder in use, e.g. "h264 (software)" or "h264 (cuda)" (see DecoderChoice). */
  decoder?: string;
  /**
   * Set when packets are wanted (keepPackets) but the source's cannot be sent as they are (not H.264, or H.264 with
   * B-frames): the decoded frames are re-encoded to H.264 (no B-frames, SPS/PPS in band) and those packets are emitted.
   */
  transcoded?: { from: string; reason: string };
}

export interface FrameMessage {
  type: 'frame';
  /** 90 kHz, from 0 at the start of the session, increasing across loops. */
  pts: number;
  width: number;
  height: number;
  sourceWidth: number;
  sourceHeight: number;
  capturedAt: number;
  decodeMs: number;
  /** BGR24 pixels; transferred, not copied. */
  pixels: ArrayBuffer;
}

export interface PacketMessage {
  type: 'packet';
  codec: string;
  pts: number;
  dts: number;
  keyframe: boolean;
  data: ArrayBuffer;
}

export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  /**
   * An RTSP open failed and FFmpeg did not say why ("Invalid data"): the StreamSource asks the server itself
   * (rtsp-probe.ts) before it reports the error. `detail` is what FFmpeg said; `elapsedMs` how long the open
   * took, when measured.
   */
  diagnose?: { rtsp: true; detail: string; elapsedMs?: number };
}

/** Which decoder a session uses, posted before its 'info' and again if it changes (hardware gave up). */
export interface DecoderChoice {
  type: 'decoder';
  /** "h264 (software)", "h264 (cuda)". */
  decoder: string;
  /** What was asked for. */
  hwaccel: Hwaccel;
  /** The hardware device decoding; undefined when decoding in software. */
  device?: HwDevice;
  /** Set when hardware was asked for but decoding is in software: why (FFmpeg's errors, one line). */
  fallback?: string;
}

export type BackendMessage =
  | { type: 'info'; info: StreamInfo }
  | DecoderChoice
  | FrameMessage
  | PacketMessage
  /** A non-fatal problem (e.g. one corrupt packet); decoding goes on. */
  | { type: 'warning'; error: ErrorInfo }
  /** The session is over: eof (clean end), error, or stopped (asked to). */
  | { type: 'done'; outcome: 'eof' | 'error' | 'stopped'; error?: ErrorInfo };

/** Main thread -> worker. */
export type WorkerCommand = { type: 'open'; request: SessionRequest } | { type: 'close' };

/** Layout of the shared Int32Array that controls a worker without waiting for its event loop. */
export const CONTROL = {
  /** Frames released by the consumer (main increments, worker compares with frames posted). */
  released: 0,
  /** Non-zero: stop the current session as soon as possible. */
  stop: 1,
  /** Keyframes asked for (main increments; a re-encoding session makes its next frame an IDR when it changes). */
  keyframe: 2,
  /** Number of Int32 slots. */
  length: 3,
} as const;

/** A decode backend as the StreamSource drives it; it reports through the onMessage callback it was built with. */
export interface Backend {
  /** Start one session; it ends with a 'done' message. */
  open(request: SessionRequest): void;
  /** The consumer is done with `count` more frames (opens the backpressure window). */
  release(count: number): void;
  /** A viewer needs a keyframe: a session that re-encodes makes its next frame one (others cannot). */
  requestKeyframe?(): void;
  /** Stop everything; safe to call twice. */
  close(): Promise<void>;
}
