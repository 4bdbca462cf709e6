/** Pixel and packet containers that move between the decoder, the scheduler and the inference workers. */

/** Packed BGR24 pixels (stride = width * 3). */
export interface ImageBuffer {
  data: Uint8Array;
  width: number;
  height: number;
}

/** A decoded video frame. The pixels may be a scaled-down copy of the source frame (see sourceWidth). */
export interface DecodedFrame extends ImageBuffer {
  streamId: string;
  /** Sequence number within the stream, from 0, in decode order (restarts never reuse a number). */
  seq: number;
  /** Presentation timestamp on the 90 kHz clock. */
  pts: number;
  /** Size of the source frame these pixels represent; boxes are reported in this space. */
  sourceWidth: number;
  sourceHeight: number;
  /** nowMs() when the decoder produced the frame. */
  capturedAt: number;
  /** Milliseconds spent demuxing + decoding + converting this frame. */
  decodeMs: number;
}

/** One compressed video packet as demuxed (H.264/H.265 in length-prefixed AVCC/HVCC form). */
export interface EncodedPacket {
  streamId: string;
  codec: string;
  data: Uint8Array;
  pts: number;
  dts: number;
  keyframe: boolean;
}
