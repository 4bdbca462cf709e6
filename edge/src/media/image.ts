/** Loads a still image (JPEG, PNG, ... anything FFmpeg decodes) as packed BGR24 pixels, synchronously. */
import { existsSync, statSync } from 'node:fs';
import { SightlineError, SourceError } from '@sightline/shared';
import { Decoder, Demuxer } from 'node-av/api';
import {
  AV_PIX_FMT_BGR24,
  type AVPixelFormat,
  SWS_ACCURATE_RND,
  SWS_BILINEAR,
  SWS_FULL_CHR_H_INT,
  type SwsFlags,
} from 'node-av/constants';
import { type Frame, SoftwareScaleContext } from 'node-av/lib';
import type { ImageBuffer } from '../frame.ts';

/** Decode the first video frame of `path` and convert it to packed BGR24 (stride = width * 3). */
export function loadImageBgr(path: string): ImageBuffer {
  if (typeof path !== 'string' || path.length === 0) {
    throw new TypeError(
      `Expected a non-empty string for path but received ${String(path)} of type ${typeof path}`,
    );
  }
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new SourceError('SOURCE_INVALID', `Image file not found: ${path}`);
  }
  let demuxer: Demuxer;
  try {
    demuxer = Demuxer.openSync(path);
  } catch (err) {
    throw new SourceError('SOURCE_INVALID', `Cannot open ${path} as an image: ${(err as Error).message}`, {
      cause: err,
    });
  }
  let decoder: Decoder | undefined;
  let frame: Frame | undefined;
  try {
    const stream = demuxer.video();
    if (!stream) throw new SourceError('SOURCE_INVALID', `${path} holds no image or video stream`);
    decoder = Decoder.createSync(stream);
    for (const packet of demuxer.packetsSync(stream.index)) {
      const frames = decoder.decodeAllSync(packet);
      frame = frames[0];
      for (const extra of frames.slice(1)) extra.free();
      if (frame || packet === null) break;
    }
    frame ??= decoder.decodeAllSync(null)[0];
    if (!frame) throw new SourceError('SOURCE_INVALID', `${path} decoded to no picture`);
    return frameToBgr(frame);
  } catch (err) {
    if (err instanceof SourceError) throw err;
    throw new SourceError('DECODE_FAILED', `Cannot decode ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  } finally {
    frame?.free();
    decoder?.close();
    demuxer.closeSync();
  }
}

/** A decoded frame (any pixel format) as packed BGR24 (stride = width * 3). */
export function frameToBgr(frame: Frame): ImageBuffer {
  const { width, height } = frame;
  const planes = frame.data;
  if (!planes || width <= 0 || height <= 0)
    throw new SightlineError('DECODE_FAILED', 'the decoder returned an empty frame');
  const sws = new SoftwareScaleContext();
  try {
    const flags = (SWS_BILINEAR | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT) as SwsFlags;
    sws.getContext(width, height, frame.format as AVPixelFormat, width, height, AV_PIX_FMT_BGR24, flags);
    const ret = sws.initContext();
    if (ret < 0) throw new SightlineError('DECODE_FAILED', `swscale init failed (${ret})`);
    const out = Buffer.alloc(width * height * 3);
    const rows = sws.scaleSync(planes, frame.linesize, 0, height, [out], [width * 3]);
    if (rows !== height)
      throw new SightlineError('DECODE_FAILED', `swscale converted ${rows} of ${height} rows`);
    return { data: new Uint8Array(out.buffer, out.byteOffset, out.byteLength), width, height };
  } finally {
    sws.freeContext();
  }
}
