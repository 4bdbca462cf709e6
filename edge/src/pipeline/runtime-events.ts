/** What an EdgeRuntime tells its listeners (its events, why a frame got no result) and settings it derives from its config. */
import { hostname } from 'node:os';
import type { EdgeConfig, FrameResult, StreamStats } from '@sightline/shared';
import type { EncodedPacket } from '../frame.ts';
import type { StreamInfo } from '../sources/stream-source.ts';
import type { TrackThumbnail } from '../thumbnails/thumbnail-stage.ts';

export type EdgeRuntimeEvents = {
  /** One processed frame, in order per stream. */
  result: [FrameResult];
  /** A stream changed state (starting, running, reconnecting, ended, failed, stopped). */
  'stream-state': [streamId: string, state: StreamStats['state'], error?: string];
  /** A track showed clearly better than in its previous thumbnail: a new JPEG of it (see ThumbnailStage). */
  thumbnail: [TrackThumbnail];
  /** applyConfig() changed the effective config: the dotted paths it changed, and the new config. */
  'config-applied': [change: { applied: string[]; config: EdgeConfig }];
  /** A stream was removed (removeStream, or applyConfig without it); a restarted stream is not removed. */
  'stream-removed': [streamId: string];
  /**
   * A viewer needs a keyframe of a stream whose packets go out as its source encoded them: whoever can ask that
   * source (the WHIP server asks the publishing browser or camera with an RTCP PLI) does.
   */
  'keyframe-wanted': [streamId: string];
  /** A stream's source opened (again after each reconnect or restart): its codec, size, extradata, transcoding. */
  'stream-info': [streamId: string, info: StreamInfo];
  /**
   * A compressed packet of a stream, in decode order (only after enablePackets()). H.264 as demuxed, or re-encoded
   * to H.264 when the source is not (see StreamInfo.transcoded); pts on the same 90 kHz clock as the frames.
   */
  packet: [packet: EncodedPacket];
  /**
   * A decoded frame will get no 'result': dropped before inference by the ring ('overflow') or the scheduler
   * ('stale'), or its inference failed ('infer-failed').
   */
  'frame-dropped': [streamId: string, pts: number, reason: FrameDropReason, frame: DroppedFrame];
  /**
   * Every stream has ended or failed (none running, starting, reconnecting or stopped) and every frame in flight
   * is done. Fires again after a stream added or started later ends too.
   */
  end: [];
};

/** Why a frame got no result: see the 'frame-dropped' event. */
export type FrameDropReason = 'overflow' | 'stale' | 'infer-failed';

/** What is known of a dropped frame (as in its FrameResult had it got one). */
export interface DroppedFrame {
  seq: number;
  /** Source frame size in pixels. */
  width: number;
  height: number;
  /** Wall-clock ms when the decoder produced the frame. */
  capturedAt: number;
}

/** The DroppedFrame of a decoded frame. */
export function droppedFrame(f: {
  seq: number;
  sourceWidth: number;
  sourceHeight: number;
  capturedAt: number;
}): DroppedFrame {
  return { seq: f.seq, width: f.sourceWidth, height: f.sourceHeight, capturedAt: f.capturedAt };
}

/** Score down to which detections are decoded: the detector's confidence, or the tracker's lowest score when lower. */
export function decodeThreshold(config: EdgeConfig): number {
  const t = config.tracker;
  const low = t.type === 'bytetrack' ? t.lowThreshold : t.minScore;
  return Math.min(config.detector.confidence, low);
}

/**
 * The edge's id: config.edgeId, else the host name made a valid id (ID_PATTERN: characters outside [A-Za-z0-9_.-]
 * as '-', leading ones that are not a letter or digit dropped, at most 64; "edge" when nothing is left).
 */
export function edgeIdOf(config: EdgeConfig): string {
  return (
    config.edgeId ??
    (hostname()
      .replace(/[^A-Za-z0-9_.-]/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '')
      .slice(0, 64) ||
      'edge')
  );
}
