/** The data that flows between pipeline stages and out of the edge. */

/** Axis-aligned box in source-frame pixels: [x1, y1, x2, y2]. */
export type Box = [number, number, number, number];

/**
 * A binary instance mask: a `w` x `h` grid laid over `box` (source pixels; the grid's cells, which may reach a
 * little past the object's box), as row-major run lengths alternating outside / inside, starting outside.
 */
export interface Mask {
  box: Box;
  w: number;
  h: number;
  counts: number[];
}

/** One object found by a detector, in source-frame pixels. */
export interface Detection {
  box: Box;
  /** Confidence in 0..1 (objectness x class score for YOLOX). */
  score: number;
  classId: number;
  label: string;
  /** Its pixels, from a segmentation model (yolov8-seg); absent for box-only detectors. */
  mask?: Mask;
  /** What a classifier sees in its crop (stage "classify"), best first; absent when it was not classified. */
  classes?: ClassLabel[];
}

/** One class of a classifier's answer for a frame or crop. */
export interface ClassLabel {
  classId: number;
  label: string;
  /** Softmax probability, 0..1. */
  score: number;
}

/** The share of a frame one semantic-segmentation class covers. */
export interface ClassArea {
  classId: number;
  label: string;
  /** Fraction of the image's pixels (padding excluded), 0..1. */
  fraction: number;
}

/** A semantic segmentation of one frame, summarised: the classes present, largest first. */
export interface SegmentationSummary {
  classes: ClassArea[];
}

/**
 * A per-pixel class map, run-length coded: a `w` x `h` grid laid over the whole source frame, row-major runs as
 * alternating [classId, length] pairs in `runs`.
 */
export interface ClassMap {
  w: number;
  h: number;
  runs: number[];
}

/** A frame's semantic segmentation as published: per-class areas and, unless turned off, the class map. */
export interface FrameSegmentation extends SegmentationSummary {
  map?: ClassMap;
}

/** Lifecycle of a track: tentative until confirmed by hits, lost while coasting, removed after maxAge. */
export type TrackStatus = 'tentative' | 'confirmed' | 'lost';

/** One tracked object as reported for a frame. */
export interface Track {
  /** Stable per stream, starts at 1. */
  trackId: number;
  box: Box;
  score: number;
  classId: number;
  label: string;
  status: TrackStatus;
  /** Frames since the track was created. */
  age: number;
  /** Number of frames with a matched detection. */
  hits: number;
  /** Frames since the last matched detection (0 = matched on this frame). */
  timeSinceUpdate: number;
  /** Appearance embedding (L2-normalised gallery mean), when an embedding model runs. */
  embedding?: Float32Array;
  /** The matched detection's mask on this frame, when a segmentation model runs. */
  mask?: Mask;
  /** The labels its crop was classified with last (stage "classify"), kept between classified frames. */
  classes?: ClassLabel[];
}

/** Milliseconds spent per stage for one frame. */
export interface StageTimings {
  decodeMs?: number;
  queueMs?: number;
  preprocessMs?: number;
  inferMs?: number;
  postprocessMs?: number;
  /** Waiting for re-ID embeddings of this frame's detections (crop, batch, model). */
  embedMs?: number;
  /** Waiting for the stages after detection (re-ID, classify, segment), all together. */
  stagesMs?: number;
  trackMs?: number;
  /** Decoder output to tracks out. */
  totalMs?: number;
}

/** What the edge publishes for each processed frame. */
export interface FrameResult {
  streamId: string;
  /** Frame sequence number within the stream, from 0, in decode order. */
  seq: number;
  /** Presentation timestamp on the 90 kHz clock. */
  pts: number;
  /** Source frame size in pixels (boxes are in this space). */
  width: number;
  height: number;
  /** Wall-clock ms when the decoder produced the frame. */
  capturedAt: number;
  detections: Detection[];
  tracks: Track[];
  /** The whole frame's classes (stage "classify" on frames), best first, on the frames it ran on. */
  classification?: ClassLabel[];
  /** The frame's semantic segmentation (stage "segment"), on the frames it ran on. */
  segmentation?: FrameSegmentation;
  timings: StageTimings;
}

/** Live counters of one stream. */
export interface StreamStats {
  streamId: string;
  source: string;
  /** 'stopped': stopped by an operator (the hub's stop command); start resumes it. */
  state: 'starting' | 'running' | 'reconnecting' | 'ended' | 'failed' | 'stopped';
  framesDecoded: number;
  framesInferred: number;
  /** Dropped by the frame ring (oldest dropped under overload). */
  droppedOverflow: number;
  /** Dropped by the scheduler because older than the staleness budget. */
  droppedStale: number;
  /** Frames whose inference failed (a worker error, crash or timeout); they get no result. */
  inferErrors: number;
  fps: number;
  latencyP50Ms: number;
  latencyP95Ms: number;
  activeTracks: number;
  reconnects: number;
  /** The video as published over WebRTC (once the source opened). */
  video?: StreamVideo;
  /** The decoder in use, e.g. "h264 (software)" or "h264 (cuda)" (decoder.hwaccel), once the source opened. */
  decoder?: string;
  lastError?: string;
}

/** A stream's video as the edge publishes it over WebRTC (docs/webrtc.md). */
export interface StreamVideo {
  /** Codec of the published packets ("h264"), or the source's codec when nothing is published yet. */
  codec: string;
  /** RFC 6184 profile-level-id of the published H.264 (from its SPS), e.g. "4d401f", once known. */
  profileLevelId?: string;
  /** The source's packets are re-encoded to H.264 (see `note`). */
  transcoded: boolean;
  /** Why it is re-encoded, e.g. "mpeg4 is not playable in browsers: re-encoded to H.264". */
  note?: string;
}
