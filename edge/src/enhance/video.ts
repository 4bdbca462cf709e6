/**
 * Enhance a whole video file (`sightline enhance`): decode every frame, run the chosen steps on its BGR24 pixels
 * (denoise, white balance, contrast, x3 super-resolution), and write H.264 in MP4 (libx264, yuv420p).
 */
import { existsSync, statSync } from 'node:fs';
import { SourceError } from '@sightline/shared';
import { Decoder, Demuxer, Encoder, Muxer } from 'node-av/api';
import {
  AV_LOG_ERROR,
  AV_OPT_SEARCH_CHILDREN,
  AV_OPT_TYPE_STRING,
  AV_PIX_FMT_BGR24,
  AV_PIX_FMT_YUV420P,
  FF_ENCODER_LIBX264,
  SWS_BICUBIC,
} from 'node-av/constants';
import { Frame, Log, type Packet, Rational, SoftwareScaleContext } from 'node-av/lib';
import ort from 'onnxruntime-node';
import type { ImageBuffer } from '../frame.ts';
import { frameToBgr } from '../media/image.ts';
import { loadModel } from '../models/load.ts';
import { autoContrast, whiteBalance } from './colour.ts';
import { type DenoiseOptions, denoiseNlm } from './denoise.ts';
import {
  type SuperResolutionRunner,
  type SuperResolutionSession,
  superResolveX3,
} from './super-resolution.ts';

/** Which steps run, in this order: denoise, white balance, contrast, super-resolution. */
export interface EnhanceSteps {
  /** Non-local means (true: the defaults, h 10). Default off. */
  denoise?: boolean | DenoiseOptions;
  /** Trimmed gray-world white balance. Default off. */
  whiteBalance?: boolean;
  /** Percentile contrast stretch with automatic gamma. Default off. */
  contrast?: boolean;
  /** x3 super-resolution of the luma with this model (Cb/Cr bicubic). Default off. */
  superResolution?: SuperResolutionSession | SuperResolutionRunner;
  /** The denoiser to use (e.g. the native kernel, `kernels.denoiseNlm`). Default denoiseNlm (TypeScript). */
  denoiser?: (image: ImageBuffer, options: DenoiseOptions) => ImageBuffer;
}

/** Options of enhanceVideo. */
export interface EnhanceVideoOptions extends EnhanceSteps {
  /** Stop after this many frames. Default: all. */
  maxFrames?: number;
  /** x264 constant rate factor (0 best .. 51 worst). Default 18. */
  crf?: number;
  /** Called after each frame with the frames done and the total expected (0 when the file does not say). */
  onProgress?: (done: number, total: number) => void;
}

/** What enhanceVideo wrote. */
export interface EnhanceVideoResult {
  frames: number;
  width: number;
  height: number;
  /** Frames per second of the output (the input's). */
  fps: number;
}

/**
 * An ONNX Runtime session of the catalogue's super_resolution model (verified), for EnhanceSteps.superResolution;
 * release() it when done. Throws ModelError when the model is unknown or not fetched.
 */
export async function openSuperResolution(modelsDir?: string): Promise<ort.InferenceSession> {
  const model = await loadModel('super_resolution', { modelsDir });
  return ort.InferenceSession.create(model.path);
}

/** Run the enabled steps on one BGR24 image. */
export async function enhanceImage(image: ImageBuffer, steps: EnhanceSteps): Promise<ImageBuffer> {
  let out = image;
  if (steps.denoise) out = (steps.denoiser ?? denoiseNlm)(out, steps.denoise === true ? {} : steps.denoise);
  if (steps.whiteBalance) out = whiteBalance(out);
  if (steps.contrast) out = autoContrast(out);
  if (steps.superResolution) out = await superResolveX3(out, steps.superResolution);
  return out;
}

/**
 * Enhance `input` into `output` (an .mp4 path). Throws SourceError SOURCE_INVALID when the input is missing or
 * holds no video, DECODE_FAILED when it cannot be decoded; the output is written only as far as frames were done.
 */
export async function enhanceVideo(
  input: string,
  output: string,
  options: EnhanceVideoOptions = {},
): Promise<EnhanceVideoResult> {
  if (!existsSync(input) || !statSync(input).isFile()) {
    throw new SourceError('SOURCE_INVALID', `Input video not found: ${input}`);
  }
  // x264 prints its statistics at info level; errors still show.
  Log.setLevel(AV_LOG_ERROR);
  // The synchronous API throughout: node-av's async generators need Promise.withResolvers (Node 22).
  let demuxer: Demuxer;
  try {
    demuxer = Demuxer.openSync(input);
  } catch (err) {
    throw new SourceError('SOURCE_INVALID', `Cannot open ${input} as a video: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const stream = demuxer.video();
  if (!stream) {
    demuxer.closeSync();
    throw new SourceError('SOURCE_INVALID', `${input} holds no video stream`);
  }
  const rate =
    stream.avgFrameRate.num > 0 && stream.avgFrameRate.den > 0 ? stream.avgFrameRate : new Rational(25, 1);
  const fps = rate.num / rate.den;
  const expected = Number(stream.nbFrames ?? 0) || 0;
  const total = options.maxFrames ? Math.min(options.maxFrames, expected || options.maxFrames) : expected;
  const decoder = Decoder.createSync(stream);
  const timeBase = new Rational(rate.den, rate.num);
  let encoder: Encoder | undefined;
  let muxer: Muxer | undefined;
  let index = -1;
  let frames = 0;
  let size = { width: 0, height: 0 };
  const write = (packets: readonly Packet[]) => {
    for (const packet of packets) {
      try {
        muxer!.writePacketSync(packet, index);
      } finally {
        packet.free();
      }
    }
  };
  const encode = async (image: ImageBuffer) => {
    if (!encoder) {
      size = { width: image.width, height: image.height };
      encoder = openEncoder(timeBase, rate, options.crf ?? 18);
      muxer = Muxer.openSync(output);
      index = muxer.addStream(encoder);
    }
    const frame = toYuv420(image, timeBase);
    try {
      frame.pts = BigInt(frames);
      write(encoder.encodeAllSync(frame));
    } finally {
      frame.free();
    }
  };
  try {
    outer: for (const packet of demuxer.packetsSync(stream.index)) {
      let decoded: Frame[];
      try {
        decoded = decoder.decodeAllSync(packet);
      } catch (err) {
        throw new SourceError('DECODE_FAILED', `Cannot decode ${input}: ${(err as Error).message}`, {
          cause: err,
        });
      }
      for (const frame of decoded) {
        try {
          if (options.maxFrames !== undefined && frames >= options.maxFrames) break outer;
          await encode(await enhanceImage(frameToBgr(frame), options));
          frames++;
          options.onProgress?.(frames, total);
        } finally {
          frame.free();
        }
      }
      if (packet === null) break;
    }
    if (encoder) write((encoder as Encoder).encodeAllSync(null));
  } finally {
    decoder.close();
    (encoder as Encoder | undefined)?.close();
    (muxer as Muxer | undefined)?.closeSync();
    demuxer.closeSync();
  }
  if (frames === 0) throw new SourceError('DECODE_FAILED', `${input} decoded to no frame`);
  return { frames, ...size, fps };
}

/** BGR24 pixels as a yuv420p frame (BT.601, as decoders give them) for libx264's high profile. */
function toYuv420(image: ImageBuffer, timeBase: Rational): Frame {
  const buffer = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  const src = Frame.fromVideoBuffer(buffer, {
    width: image.width,
    height: image.height,
    format: AV_PIX_FMT_BGR24,
    timeBase,
  });
  const dst = new Frame();
  const sws = new SoftwareScaleContext();
  try {
    dst.alloc();
    dst.format = AV_PIX_FMT_YUV420P;
    dst.width = image.width;
    dst.height = image.height;
    if (dst.allocBuffer() < 0) throw new SourceError('ENCODE_FAILED', 'cannot allocate a yuv420p frame');
    sws.getContext(
      image.width,
      image.height,
      AV_PIX_FMT_BGR24,
      image.width,
      image.height,
      AV_PIX_FMT_YUV420P,
      SWS_BICUBIC,
    );
    if (sws.initContext() < 0 || sws.scaleFrameSync(dst, src) < 0) {
      throw new SourceError('ENCODE_FAILED', 'cannot convert the enhanced frame to yuv420p');
    }
    dst.timeBase = timeBase;
    return dst;
  } catch (err) {
    dst.free();
    throw err;
  } finally {
    src.free();
    sws.freeContext();
  }
}

function openEncoder(timeBase: Rational, rate: Rational, crf: number): Encoder {
  return Encoder.createSync(FF_ENCODER_LIBX264, {
    context: { timeBase, framerate: rate, maxBFrames: 2, threadCount: 0 },
    configure: (ctx) => {
      for (const [name, value] of [
        ['preset', 'medium'],
        ['crf', String(crf)],
        ['profile', 'high'],
      ] as const) {
        const ret = ctx.setOption(name, value, AV_OPT_TYPE_STRING, AV_OPT_SEARCH_CHILDREN);
        if (ret < 0)
          throw new SourceError('ENCODE_FAILED', `libx264 refused ${name}=${value} (error ${ret})`);
      }
    },
  });
}
