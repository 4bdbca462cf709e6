/** One synchronous demux -> decode -> BGR24 session with node-av; runs inside a decode worker thread. */

import { SightlineError } from '@sightline/shared/errors';
import { nowMs, PTS_CLOCK_HZ } from '@sightline/shared/time';
import { Decoder, Demuxer } from 'node-av/api';
import { AV_PIX_FMT_BGR24, AVMEDIA_TYPE_VIDEO, SWS_BILINEAR } from 'node-av/constants';
import { avGetCodecName, avGetCodecString, type Frame, type Packet, SoftwareScaleContext } from 'node-av/lib';
import { classifyOpenError, ffmpegCode } from './ffmpeg-errors.ts';
import { fitInside, type Size } from './fit.ts';
import { enhancePixels } from './frame-enhance.ts';
import { H264Transcoder, transcodeReason } from './h264-transcoder.ts';
import { decoderChoice, decoderLabel, fallbackReason, type HwDevice } from './hwaccel.ts';
import { downloadHwFrame, openHwDecoder } from './node-av-hwaccel.ts';
import {
  type BackendMessage,
  CONTROL,
  type ErrorInfo,
  type SessionRequest,
  type StreamInfo,
} from './protocol.ts';

/** A session failure whose report to the StreamSource (`info`) is already made: its code, message, diagnosis. */
class SessionFailure extends SightlineError {
  readonly info: ErrorInfo;
  constructor(info: ErrorInfo) {
    super(info.code, info.message);
    this.info = info;
  }
}

/** Sends a message to the StreamSource; `transfer` lists buffers to move instead of copy. */
export type Post = (message: BackendMessage, transfer?: ArrayBuffer[]) => void;

const NOPTS = -9223372036854775808n;
/** Consecutive failed packets after which a session gives up with DECODE_FAILED. */
const MAX_CONSECUTIVE_DECODE_ERRORS = 50;
/** A realtime source this far behind its schedule re-anchors instead of bursting to catch up. */
const MAX_LAG_MS = 1000;

/**
 * Let this thread's event loop turn once. Every node-av object made per packet and frame (the Packet and Frame
 * clones, the Buffers of `frame.data`) is released by a Node-API finalizer, and Node 20 runs those from the
 * event loop (SetImmediate), not inside the garbage collection that finds them dead; `free()` only releases the
 * FFmpeg buffers. A session that never returns to the loop (a looped file, a live camera) therefore kept every
 * one of them: 1-2 kB of native memory per decoded frame (docs/benchmarks.md, soak). Costs a few µs.
 */
function turnEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

const H264_PROFILES: Record<number, string> = {
  66: 'Baseline',
  578: 'Constrained Baseline',
  77: 'Main',
  88: 'Extended',
  100: 'High',
  110: 'High 10',
  122: 'High 4:2:2',
  244: 'High 4:4:4 Predictive',
};
const HEVC_PROFILES: Record<number, string> = { 1: 'Main', 2: 'Main 10', 3: 'Main Still Picture', 4: 'Rext' };

/** Ticks of the 90 kHz clock for `ts` in time base `tb`. */
function to90k(ts: bigint, tb: { num: number; den: number }): number {
  return Math.round((Number(ts) * tb.num * PTS_CLOCK_HZ) / tb.den);
}

function openOptions(req: SessionRequest): Record<string, string | number> {
  if (req.options) return { ...req.options }; // whip:// (SDP over local UDP) brings its own
  const us = Math.round(req.openTimeoutMs * 1000);
  // A short probe: frames read while probing reach the consumer late, in a burst.
  if (req.rtsp) return { rtsp_transport: 'tcp', timeout: us, analyzeduration: 500_000 };
  if (req.network) return { timeout: us, rw_timeout: us };
  return {};
}

/** Runs sessions for one worker; keeps the scaler between frames and the pts continuous across loops. */
export class NodeAvSession {
  readonly #req: SessionRequest;
  readonly #control: Int32Array;
  readonly #post: Post;
  #posted = 0;
  #sws: SoftwareScaleContext | undefined;
  #swsKey = '';
  #out: Size = { width: 0, height: 0 };
  /** Added to session-relative pts so loops continue the clock. */
  #loopOffset = 0;
  #lastPts = -1;
  #frameTicks = 0;
  #anchor: { wall: number; pts: number } | undefined;
  #warnedAt = 0;
  /** Re-encodes decoded frames to H.264 when packets are wanted but the source's are not publishable as they are. */
  #transcoder: H264Transcoder | undefined;
  /** CONTROL.keyframe as last seen: a change asks for an IDR. */
  #keyframesAsked = 0;
  /** The hardware device of the current decoder; undefined when decoding in software. */
  #hwDevice: HwDevice | undefined;
  /** The current decoder has returned a frame (the first one tells whether the hardware is really used). */
  #decodedAny = false;
  #codec = '';

  /** `posted` is how many frames this worker has posted before (the control block counts releases since the worker started). */
  constructor(req: SessionRequest, control: Int32Array, post: Post, posted = 0) {
    this.#req = req;
    this.#control = control;
    this.#post = post;
    this.#posted = posted;
  }

  /** Frames posted so far (including earlier sessions of this worker). */
  get posted(): number {
    return this.#posted;
  }

  /**
   * Open, decode to the end (looping if asked), and post 'done'. Never rejects. The FFmpeg calls block this
   * thread; between packets it lets the event loop turn (see turnEventLoop).
   */
  async run(): Promise<void> {
    let outcome: BackendMessage;
    try {
      let first = true;
      for (;;) {
        const result = await this.#runOnce(first);
        first = false;
        if (result !== 'eof' || !this.#req.loop || this.#stopped()) {
          outcome = { type: 'done', outcome: this.#stopped() ? 'stopped' : result };
          break;
        }
        this.#loopOffset = this.#lastPts + Math.max(1, this.#frameTicks);
      }
    } catch (err) {
      const error =
        err instanceof SessionFailure
          ? err.info
          : {
              code: 'DECODE_FAILED' as const,
              message: `Decoding ${this.#req.display} failed: ${(err as Error).message}`,
            };
      outcome = { type: 'done', outcome: this.#stopped() ? 'stopped' : 'error', error };
    } finally {
      this.#sws?.freeContext();
      this.#sws = undefined;
      this.#swsKey = '';
      this.#transcoder?.close();
      this.#transcoder = undefined;
    }
    this.#post(outcome);
  }

  #stopped(): boolean {
    return Atomics.load(this.#control, CONTROL.stop) !== 0;
  }

  /** Sleep up to `ms`, waking early on stop or release. */
  #wait(ms: number): void {
    if (ms <= 0) return;
    const released = Atomics.load(this.#control, CONTROL.released);
    Atomics.wait(this.#control, CONTROL.released, released, ms);
  }

  #fail(code: ErrorInfo['code'], message: string): never {
    throw new SessionFailure({ code, message });
  }

  async #runOnce(announce: boolean): Promise<'eof' | 'error'> {
    const req = this.#req;
    let demuxer: Demuxer;
    const openedAt = performance.now();
    try {
      demuxer = Demuxer.openSync(req.input, { options: openOptions(req) });
    } catch (err) {
      const info = classifyOpenError(
        ffmpegCode(err),
        (err as Error).message,
        req.display,
        req.network,
        req.rtsp,
      );
      if (info.diagnose) info.diagnose.elapsedMs = performance.now() - openedAt;
      throw new SessionFailure(info);
    }
    let decoder: Decoder | undefined;
    try {
      const stream = demuxer.video();
      if (!stream || stream.codecpar.codecType !== AVMEDIA_TYPE_VIDEO) {
        this.#fail('SOURCE_INVALID', `${req.display} has no video stream`);
      }
      const par = stream.codecpar;
      const codec = avGetCodecName(par.codecId) ?? `codec#${par.codecId}`;
      decoder = this.#openDecoder(stream, codec);
      const tb = { num: stream.timeBase.num, den: stream.timeBase.den };
      const rate = stream.avgFrameRate.num > 0 ? stream.avgFrameRate : stream.rFrameRate;
      const fps = rate.den > 0 && rate.num > 0 ? rate.num / rate.den : 0;
      if (fps > 0) this.#frameTicks = Math.round(PTS_CLOCK_HZ / fps);
      const out = fitInside({ width: par.width, height: par.height }, req.fit);
      const hasBFrames = par.videoDelay > 0;
      // Packets a browser cannot play (another codec, or B-frames that WebRTC cannot carry) are re-encoded.
      const transcode = req.keepPackets ? transcodeReason(codec, hasBFrames) : undefined;
      if (transcode && !this.#transcoder) this.#transcoder = new H264Transcoder({ fps });
      if (!transcode) {
        this.#transcoder?.close();
        this.#transcoder = undefined;
      }
      if (announce || req.network) {
        const profiles = codec === 'h264' ? H264_PROFILES : codec === 'hevc' ? HEVC_PROFILES : {};
        const profileId = (par.profile as number) >= 0 ? (par.profile as number) : undefined;
        const info: StreamInfo = {
          codec,
          codecString: avGetCodecString(par, rate) ?? undefined,
          width: par.width,
          height: par.height,
          fps,
          timeBase: tb,
          profile: profileId === undefined ? undefined : profiles[profileId],
          profileId,
          level: par.level > 0 ? par.level : undefined,
          extradata: new Uint8Array(par.extradata ?? new Uint8Array(0)),
          hasBFrames,
          outputWidth: out.width,
          outputHeight: out.height,
          backend: 'node-av',
          decoder: decoderLabel(codec, this.#hwDevice),
          ...(transcode ? { transcoded: { from: codec, reason: transcode } } : {}),
        };
        this.#post({ type: 'info', info });
      }
      let base: number | undefined;
      let consecutiveErrors = 0;
      let lastPacketPts = -1;
      let t0 = performance.now();
      for (const packet of demuxer.packetsSync(stream.index)) {
        if (this.#stopped()) {
          packet?.free();
          return 'eof';
        }
        if (packet) {
          const raw = packet.dts !== NOPTS ? packet.dts : packet.pts;
          if (base === undefined && raw !== NOPTS) base = to90k(raw, tb);
          if (req.keepPackets && !transcode)
            lastPacketPts = this.#postPacket(packet, codec, tb, base ?? 0, lastPacketPts);
        }
        let frames: number;
        try {
          frames = this.#decode(decoder, packet, tb, base ?? 0, t0);
          consecutiveErrors = 0;
        } catch (err) {
          frames = 0;
          consecutiveErrors++;
          this.#warn(`Corrupt data in ${req.display}: ${(err as Error).message}`);
          if (consecutiveErrors >= MAX_CONSECUTIVE_DECODE_ERRORS) {
            this.#fail(
              'DECODE_FAILED',
              `Decoding ${req.display} failed ${consecutiveErrors} times in a row: ${(err as Error).message}`,
            );
          }
        }
        packet?.free();
        if (!packet) break;
        const paused = performance.now();
        await turnEventLoop();
        if (frames > 0 || consecutiveErrors > 0) t0 = performance.now();
        else t0 += performance.now() - paused; // the loop's turn is not decoding time
      }
      return 'eof';
    } finally {
      decoder?.close();
      demuxer.closeSync();
    }
  }

  /**
   * A decoder for `stream`: on the asked-for hardware when it can be opened and has a decoder for the codec, else
   * in software. Posts the choice ('decoder'), with why hardware was not used when it was asked for.
   */
  #openDecoder(stream: Parameters<typeof Decoder.createSync>[0], codec: string): Decoder {
    const req = this.#req;
    const hwaccel = req.hwaccel ?? 'none';
    this.#decodedAny = false;
    this.#codec = codec;
    const choice = openHwDecoder(stream, codec, { hwaccel, device: req.hwaccelDevice, threads: req.threads });
    let decoder = choice.decoder;
    this.#hwDevice = choice.device;
    if (!decoder) {
      try {
        decoder = Decoder.createSync(stream, { context: { threadCount: req.threads } });
      } catch (err) {
        this.#fail(
          'DECODE_FAILED',
          `No usable ${codec} decoder for ${req.display}: ${(err as Error).message}`,
        );
      }
    }
    this.#post(decoderChoice(codec, hwaccel, this.#hwDevice, fallbackReason(hwaccel, choice.attempts)));
    return decoder;
  }

  /**
   * The frame to convert: a hardware frame is downloaded to system memory (NV12, P010... as the device offers;
   * swscale takes it from there). The first frame of a hardware decoder that comes out in system memory means
   * FFmpeg gave up on the hardware for this stream (its hwaccel failed to initialise) and decodes in software.
   */
  #toSystemMemory(frame: Frame): Frame {
    const first = !this.#decodedAny;
    this.#decodedAny = true;
    if (!frame.isHwFrame()) {
      if (first && this.#hwDevice) {
        const device = this.#hwDevice;
        this.#hwDevice = undefined;
        this.#post(
          decoderChoice(
            this.#codec,
            this.#req.hwaccel ?? 'none',
            undefined,
            `${device}: FFmpeg could not set up the ${device} decoder for this stream and decodes in software`,
          ),
        );
      }
      return frame;
    }
    return downloadHwFrame(frame, this.#hwDevice);
  }

  #warn(message: string): void {
    const now = Date.now();
    if (now - this.#warnedAt < 1000) return;
    this.#warnedAt = now;
    this.#post({ type: 'warning', error: { code: 'DECODE_FAILED', message } });
  }

  #postPacket(
    packet: Packet,
    codec: string,
    tb: { num: number; den: number },
    base: number,
    last: number,
  ): number {
    const src = packet.data;
    if (!src) return last;
    const data = new ArrayBuffer(src.length);
    new Uint8Array(data).set(src);
    const pts =
      packet.pts !== NOPTS ? to90k(packet.pts, tb) - base + this.#loopOffset : last + this.#frameTicks;
    const dts = packet.dts !== NOPTS ? to90k(packet.dts, tb) - base + this.#loopOffset : pts;
    this.#post({ type: 'packet', codec, pts, dts, keyframe: packet.isKeyframe, data }, [data]);
    return pts;
  }

  /** Re-encode one decoded frame and post its H.264 packets (before the frame, so they wait for its result). */
  #transcode(frame: Frame, pts: number): void {
    const transcoder = this.#transcoder!;
    const asked = Atomics.load(this.#control, CONTROL.keyframe);
    const keyframe = asked !== this.#keyframesAsked;
    this.#keyframesAsked = asked;
    try {
      for (const p of transcoder.encode(frame, pts, keyframe)) {
        this.#post({ type: 'packet', codec: 'h264', ...p }, [p.data]);
      }
    } catch (err) {
      // No packets from here on (the publisher times those frames out); decoding and inference go on.
      this.#transcoder = undefined;
      transcoder.close();
      this.#post({
        type: 'warning',
        error: {
          code: 'DECODE_FAILED',
          message: `Re-encoding ${this.#req.display} to H.264 failed; no more packets: ${(err as Error).message}`,
        },
      });
    }
  }

  /** Feed one packet (null = flush) and post every frame it yields; returns how many. */
  #decode(
    decoder: Decoder,
    packet: Packet | null,
    tb: { num: number; den: number },
    base: number,
    t0: number,
  ): number {
    decoder.decodeSync(packet);
    let n = 0;
    for (;;) {
      const frame = decoder.receiveSync();
      if (!frame || typeof frame !== 'object' || !('width' in frame)) break;
      let sw: Frame | undefined;
      try {
        sw = this.#toSystemMemory(frame);
        this.#emitFrame(sw, tb, base, n === 0 ? t0 : performance.now());
      } finally {
        if (sw && sw !== frame) sw.free();
        frame.free();
      }
      n++;
    }
    return n;
  }

  #emitFrame(frame: Frame, tb: { num: number; den: number }, base: number, t0: number): void {
    const req = this.#req;
    const ts = frame.pts !== NOPTS ? frame.pts : frame.bestEffortTimestamp;
    let pts =
      ts !== NOPTS ? to90k(ts, tb) - base + this.#loopOffset : this.#lastPts + Math.max(1, this.#frameTicks);
    if (pts <= this.#lastPts) pts = this.#lastPts + 1; // keep the clock strictly increasing
    if (this.#lastPts >= 0 && this.#frameTicks === 0) this.#frameTicks = pts - this.#lastPts;
    const key = `${frame.width}x${frame.height}:${frame.format}`;
    if (key !== this.#swsKey) {
      this.#sws?.freeContext();
      this.#out = fitInside({ width: frame.width, height: frame.height }, req.fit);
      this.#sws = new SoftwareScaleContext();
      this.#sws.getContext(
        frame.width,
        frame.height,
        frame.format as never,
        this.#out.width,
        this.#out.height,
        AV_PIX_FMT_BGR24,
        SWS_BILINEAR,
      );
      this.#swsKey = key;
    }
    const { width, height } = this.#out;
    const pixels = new ArrayBuffer(width * height * 3);
    const planes = frame.data;
    if (!planes) this.#fail('DECODE_FAILED', `Decoder for ${req.display} returned a frame without pixels`);
    this.#sws!.scaleSync(planes, frame.linesize, 0, frame.height, [Buffer.from(pixels)], [width * 3]);
    // The enhance stage runs here, off the main thread; its time counts as decoding.
    const out = req.enhance ? enhancePixels(pixels, width, height, req.enhance) : pixels;
    const decodeMs = performance.now() - t0;

    // Pace like a camera, or hold back while the consumer's window is full.
    if (req.realtime) {
      const now = performance.now();
      if (!this.#anchor || now - (this.#anchor.wall + (pts - this.#anchor.pts) / 90) > MAX_LAG_MS) {
        this.#anchor = { wall: now, pts };
      }
      let due = this.#anchor.wall + (pts - this.#anchor.pts) / 90;
      while (!this.#stopped() && due - performance.now() > 0.5) {
        this.#wait(due - performance.now());
        due = this.#anchor.wall + (pts - this.#anchor.pts) / 90;
      }
    } else if (req.window > 0) {
      while (!this.#stopped() && this.#posted - Atomics.load(this.#control, CONTROL.released) >= req.window) {
        this.#wait(100);
      }
    }
    if (this.#stopped()) return;
    if (this.#transcoder) this.#transcode(frame, pts);
    this.#lastPts = pts;
    this.#posted++;
    this.#post(
      {
        type: 'frame',
        pts,
        width,
        height,
        sourceWidth: frame.width,
        sourceHeight: frame.height,
        capturedAt: nowMs(),
        decodeMs,
        pixels: out,
      },
      [out],
    );
  }
}
