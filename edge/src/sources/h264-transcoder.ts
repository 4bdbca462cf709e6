/** Re-encodes decoded frames to browser-playable H.264 (libx264, no B-frames, SPS/PPS in band) inside a decode worker. */
import { SightlineError } from '@sightline/shared';
import { Encoder } from 'node-av/api';
import { AV_OPT_SEARCH_CHILDREN, AV_OPT_TYPE_STRING, FF_ENCODER_LIBX264 } from 'node-av/constants';
import { type Frame, Rational } from 'node-av/lib';

/** Why a stream's packets must be re-encoded before WebRTC can carry them, or undefined when they can go as they are. */
export function transcodeReason(codec: string, hasBFrames: boolean): string | undefined {
  if (codec !== 'h264') return `${codec} is not playable in browsers: re-encoded to H.264`;
  if (hasBFrames) return 'source has B-frames: re-encoded without them';
  return undefined;
}

export interface H264TranscoderOptions {
  /** Nominal frame rate of the source (0 = unknown, 25 is assumed). */
  fps: number;
  /** Seconds between keyframes. Default 2. */
  gopSeconds?: number;
  /** x264 preset. Default veryfast. */
  preset?: string;
  /** H.264 profile: main or baseline. Default main. */
  profile?: 'main' | 'baseline';
}

/** One encoded packet, timed on the 90 kHz clock like the frame it came from. */
export interface TranscodedPacket {
  pts: number;
  dts: number;
  keyframe: boolean;
  /** Annex-B H.264 (the encoder's output). */
  data: ArrayBuffer;
}

/** libx264 with tune=zerolatency and bf=0: one packet per frame, in order, SPS/PPS before every IDR. */
export class H264Transcoder {
  readonly #options: H264TranscoderOptions;
  #encoder: Encoder | undefined;
  /** pts of the frames fed and not yet out (packets come out in input order: there are no B-frames). */
  readonly #pending: number[] = [];
  /** A keyframe was asked for and not made yet. */
  #keyframeWanted = false;

  constructor(options: H264TranscoderOptions) {
    this.#options = options;
  }

  /**
   * Encode one frame shown at `pts` (90 kHz); returns the packets it completes (normally exactly one).
   * `keyframe`: make this frame an IDR (a viewer asked for one); otherwise the GOP decides (node-av's Encoder
   * ignores the source's picture types).
   */
  encode(frame: Frame, pts: number, keyframe = false): TranscodedPacket[] {
    this.#keyframeWanted ||= keyframe;
    if (this.#keyframeWanted && this.#pending.length === 0) {
      // node-av's Encoder clears frame.pictType before encoding, so a forced I frame cannot be asked for; a fresh
      // encoder starts with an IDR (and SPS/PPS). Nothing is buffered inside it (zerolatency, no B-frames); were
      // a frame still inside, the request waits for the next frame rather than being lost.
      this.#encoder?.close();
      this.#encoder = undefined;
      this.#keyframeWanted = false;
    }
    this.#encoder ??= this.#open();
    this.#pending.push(pts);
    frame.pts = BigInt(pts);
    this.#encoder.encodeSync(frame);
    const out: TranscodedPacket[] = [];
    for (;;) {
      const packet = this.#encoder.receiveSync();
      if (!packet || typeof packet !== 'object' || !('isKeyframe' in packet)) break;
      try {
        const src = packet.data;
        const at = this.#pending.shift() ?? pts;
        if (!src) continue;
        const data = new ArrayBuffer(src.length);
        new Uint8Array(data).set(src);
        out.push({ pts: at, dts: at, keyframe: packet.isKeyframe, data });
      } finally {
        packet.free();
      }
    }
    return out;
  }

  close(): void {
    this.#encoder?.close();
    this.#encoder = undefined;
    this.#pending.length = 0;
  }

  #open(): Encoder {
    const fps = this.#options.fps > 0 ? this.#options.fps : 25;
    const rate = Number.isInteger(fps) ? new Rational(fps, 1) : new Rational(Math.round(fps * 1000), 1000);
    return Encoder.createSync(FF_ENCODER_LIBX264, {
      autoFormat: true,
      context: {
        timeBase: new Rational(1, 90_000),
        framerate: rate,
        gopSize: Math.max(1, Math.round(fps * (this.#options.gopSeconds ?? 2))),
        maxBFrames: 0,
        threadCount: 1,
      },
      // Private options set on the context: node-av's `options` dictionary crashes the process in its finalizer
      // once a frame was encoded (node-av 6.1.1).
      configure: (ctx) => {
        const set = (name: string, value: string) => {
          const ret = ctx.setOption(name, value, AV_OPT_TYPE_STRING, AV_OPT_SEARCH_CHILDREN);
          if (ret < 0)
            throw new SightlineError('ENCODE_FAILED', `libx264 refused ${name}=${value} (error ${ret})`);
        };
        set('preset', this.#options.preset ?? 'veryfast');
        set('tune', 'zerolatency');
        set('profile', this.#options.profile ?? 'main');
        set('bf', '0');
      },
    });
  }
}
