/** Turns an offloaded frame (raw BGR24 or a JPEG of it, at model input size) into the edge's DecodedFrame. */
import type { DecodedFrame } from '@sightline/edge';
import type { OffloadFrame } from '@sightline/shared';
import sharp from 'sharp';

/** A frame the worker cannot use (wrong byte count, undecodable JPEG): the request is refused as FAILED. */
export class FrameError extends Error {}

/**
 * Decode a JPEG to packed 3-byte pixels of exactly width x height (stretched when it was sent at another size).
 * The edge encodes its BGR bytes as three plain channels, so they come back in BGR order: no channel swap.
 */
async function jpegToPixels(data: Uint8Array, width: number, height: number): Promise<Uint8Array> {
  try {
    const { data: raw, info } = await sharp(data, { failOn: 'error' })
      .removeAlpha()
      .toColourspace('srgb')
      .resize(width, height, { fit: 'fill' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || raw.length !== width * height * 3) {
      throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}`);
    }
    return raw;
  } catch (err) {
    throw new FrameError(`JPEG frame does not decode: ${(err as Error).message}`);
  }
}

/** The frame as the inference pool takes it: packed BGR24 at width x height, boxes reported in the source size. */
export async function toDecodedFrame(frame: OffloadFrame, now: number = Date.now()): Promise<DecodedFrame> {
  const { width, height } = frame;
  let data: Uint8Array;
  if (frame.encoding === 'raw') {
    if (frame.data.length !== width * height * 3) {
      throw new FrameError(
        `raw BGR24 frame of ${width}x${height} needs ${width * height * 3} bytes but has ${frame.data.length}`,
      );
    }
    data = frame.data;
  } else {
    data = await jpegToPixels(frame.data, width, height);
  }
  // The pool transfers the pixels' ArrayBuffer to a session thread. Decoded entries are views into Redis reply
  // buffers shared with other entries (and a Node Buffer's slice() is no copy, so the pool's own copy of a view
  // would transfer the whole shared buffer): hand it pixels that own their buffer.
  if (Buffer.isBuffer(data) || data.byteOffset !== 0 || data.byteLength !== data.buffer.byteLength) {
    data = new Uint8Array(data);
  }
  return {
    data,
    width,
    height,
    sourceWidth: frame.sourceWidth,
    sourceHeight: frame.sourceHeight,
    streamId: frame.streamId,
    seq: frame.seq,
    pts: 0,
    capturedAt: now,
    decodeMs: 0,
  };
}
