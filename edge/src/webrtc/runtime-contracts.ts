/**
 * What webrtc/ needs of the runtime: the events the media client subscribes to, the few calls it and the WHIP
 * server make, and the stream facts a publisher reads. An EdgeRuntime satisfies them structurally (tests use
 * stand-ins), so webrtc/ never imports the pipeline.
 */
import type { FrameResult, StreamConfigInput, StreamStats } from '@sightline/shared';
import type { EncodedPacket } from '../frame.ts';
import type { VideoSourceInfo } from '../h264/video-facts.ts';

/** The stream facts a publisher needs (a source's StreamInfo has them). */
export interface MediaStreamInfo extends VideoSourceInfo {
  width: number;
  height: number;
  /** Nominal frames per second (0 when unknown). */
  fps: number;
  /** The stream reorders frames (B-frames), so dts != pts. */
  hasBFrames: boolean;
}

/** What is known of a frame that gets no result (as in its FrameResult had it got one). */
export interface MediaDroppedFrame {
  seq: number;
  /** Source frame size in pixels. */
  width: number;
  height: number;
  /** Wall-clock ms when the decoder produced the frame. */
  capturedAt: number;
}

/** The runtime events the media client listens to (a subset of EdgeRuntimeEvents, with the same arguments). */
export type MediaRuntimeEvents = {
  /** A stream's source opened (again after each reconnect or restart). */
  'stream-info': [streamId: string, info: MediaStreamInfo];
  /** A compressed packet of a stream, in decode order. */
  packet: [packet: EncodedPacket];
  /** One processed frame, in order per stream. */
  result: [result: FrameResult];
  /** A decoded frame will get no 'result' (overflow, stale, infer-failed). */
  'frame-dropped': [streamId: string, pts: number, reason: string, frame: MediaDroppedFrame];
  /** A stream changed state. */
  'stream-state': [streamId: string, state: StreamStats['state'], error?: string];
  /** A stream was removed. */
  'stream-removed': [streamId: string];
};

/** A listener of one of the MediaRuntimeEvents. */
export type MediaRuntimeListener<K extends keyof MediaRuntimeEvents> = (
  ...args: MediaRuntimeEvents[K]
) => void;

/** What the media client needs of the runtime (an EdgeRuntime; a stand-in in tests). */
export interface MediaRuntime {
  on<K extends keyof MediaRuntimeEvents>(event: K, listener: MediaRuntimeListener<K>): unknown;
  off<K extends keyof MediaRuntimeEvents>(event: K, listener: MediaRuntimeListener<K>): unknown;
  /** The streams and their states (only streamId and state are read). */
  stats(): readonly Pick<StreamStats, 'streamId' | 'state'>[];
  /** The latest info of a stream's source (undefined before it opened). */
  streamInfo(streamId: string): MediaStreamInfo | undefined;
  /** A viewer needs a keyframe of the stream (an RTCP PLI reached its publisher). */
  requestKeyframe?(streamId: string): boolean;
}

/** What the WHIP server needs of the runtime (an EdgeRuntime fits). */
export interface WhipRuntime {
  addStream(config: StreamConfigInput): Promise<unknown>;
  removeStream(id: string): Promise<void>;
  /** Used to ask for keyframes until the stream decodes; without it keyframes are asked for until one passes. */
  stats?(): readonly { streamId: string; framesDecoded: number }[];
  /** 'keyframe-wanted' (a viewer of a WHIP stream joined): the server asks the publisher for a keyframe. */
  on?(event: 'keyframe-wanted', listener: (streamId: string) => void): unknown;
  off?(event: 'keyframe-wanted', listener: (streamId: string) => void): unknown;
}
