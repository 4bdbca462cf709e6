/**
 * Types of the viewer's modules (hub/web/*.js, checked by tsc through their JSDoc; never sent to the browser):
 * what crosses the wire to the viewer and what it exposes as window.sightlineViewer. The wire shapes mirror their
 * sources, which are the authority: hub/src/media/viewer-signalling.ts (HubToViewerMessage, StreamInfo),
 * edge/src/webrtc/frame-meta.ts (FrameMeta) and hub/src/api/schemas.ts (Track, SearchResults).
 */

/** A box in the frame's pixels: x1, y1, x2, y2. */
export type Box = [number, number, number, number];

/** One published stream as the hub lists it (StreamInfo). */
export interface StreamInfo {
  /** `<edgeId>/<streamId>`. */
  key: string;
  edgeId: string;
  streamId: string;
  video?: {
    codec?: string;
    profileLevelId?: string;
    width?: number;
    height?: number;
    fps?: number;
    transcoded?: boolean;
    note?: string;
  };
}

/** The `meta` data channel's offer details: mediasoup does not speak DCEP, so it is opened negotiated. */
export interface DataChannelInfo {
  label: string;
  id: number;
}

/** Messages the hub sends on /api/v1/media/view. */
export type HubToViewerMessage =
  | { type: 'streams'; streams: StreamInfo[] }
  | { type: 'offer'; key: string; sdp: string; dataChannel?: DataChannelInfo }
  | HubError;

/** An error the hub reports; with `key` it concerns that stream only. Errors never close the socket. */
export interface HubError {
  type: 'error';
  code: string;
  message: string;
  key?: string;
}

/** Messages the viewer sends on /api/v1/media/view. */
export type ViewerToHubMessage =
  | { type: 'auth'; token: string }
  | { type: 'watch'; key: string }
  | { type: 'answer'; key: string; sdp: string }
  | { type: 'unwatch'; key: string };

/** A track drawn on a frame: id, class id, label, score 0..1, box. */
export interface MetaTrack {
  id: number;
  c: number;
  l: string;
  s: number;
  b: Box;
}

/** An instance mask: row-major run lengths (zeros first) over a w x h grid covering `box`. */
export interface MetaMask {
  id: number;
  box: Box;
  w: number;
  h: number;
  counts: number[];
}

/** The JSON of one frame on the `meta` data channel, keyed by the frame's RTP timestamp. */
export interface FrameMeta {
  v: 1;
  rtp: number;
  seq: number;
  pts: number;
  /** The frame's size: boxes are in these pixels. */
  w: number;
  h: number;
  /** Epoch ms the edge received the frame. */
  t: number;
  sent: number;
  tracks: MetaTrack[];
  masks?: MetaMask[];
  skipped: boolean;
}

/** One displayed frame, as the viewer logs it for its stats and the tests. */
export interface FrameRecord {
  rtp: number | undefined;
  /** The RTP timestamp of the metadata drawn with it, null when none came. */
  metaRtp: number | null;
  pts: number | undefined;
  seq: number | undefined;
  /** Epoch ms the frame was expected on screen. */
  displayEpoch: number;
  presented: number;
  ids?: number[];
  skipped?: boolean;
  /** Edge arrival to display, ms. */
  latencyMs?: number;
}

/** A tile's figures, refreshed every second. */
export interface TileStats {
  fps: number;
  kbps: number;
  latencyP50: number;
  latencyP95: number;
  dropped: number;
  frames: number;
  withMeta: number;
  noMeta: number;
}

/** The overlay's layers, each switched by the checkbox of the same name. */
export interface Layers {
  boxes: boolean;
  labels: boolean;
  ids: boolean;
  trails: boolean;
  masks: boolean;
}

/** A stored track (GET /api/v1/tracks). */
export interface StoredTrack {
  id: string;
  edgeId: string;
  streamId: string;
  run: string;
  trackId: number;
  label: string;
  classId: number;
  firstSeen: string;
  lastSeen: string;
  thumbnail?: string;
}

/** One result of POST /api/v1/search. */
export interface SimilarTrack extends StoredTrack {
  /** Cosine similarity. */
  score: number;
}

/** What tests and curious users can read: per-stream displayed frames, stats, layers. */
export interface SightlineViewer {
  layers: Layers;
  keys(): string[];
  frames(key: string): FrameRecord[];
  stats(key: string): TileStats | undefined;
  /** The metadata last drawn on a stream (its boxes are what a click hits). */
  lastDrawn(key: string): FrameMeta | undefined;
  connected(): boolean;
  /** The `error` messages the hub sent. */
  errors: HubError[];
}

declare global {
  interface Window {
    sightlineViewer: SightlineViewer;
  }
}
