/**
 * Types of the viewer's modules (hub/web/*.js, checked by tsc through their JSDoc; never sent to the browser):
 * what crosses the wire to the viewer and what it exposes as window.sightlineViewer. The signalling messages and
 * the `meta` data channel's FrameMeta are the zod-inferred types of @sightline/shared/signalling (the one definition
 * the hub and the edge parse with); the REST shapes mirror hub/src/api/schemas.ts (Track, SearchResults).
 */
import type {
  DataChannelInfo,
  FrameMeta,
  HubToViewerMessage,
  MetaLabel,
  MetaMask,
  MetaSegmentation,
  MetaTrack,
  PublishedStream,
  ViewerToHubMessage,
} from '@sightline/shared/signalling';

export type {
  DataChannelInfo,
  FrameMeta,
  HubToViewerMessage,
  MetaLabel,
  MetaMask,
  MetaSegmentation,
  MetaTrack,
  ViewerToHubMessage,
};

/** A box in the frame's pixels: x1, y1, x2, y2. */
export type Box = [number, number, number, number];

/** One published stream as the hub lists it. */
export type StreamInfo = PublishedStream;

/** An error the hub reports; with `key` it concerns that stream only. Errors never close the socket. */
export type HubError = Extract<HubToViewerMessage, { t: 'error' }>;

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
  /** Crop labels under each box label (`k`) and the frame's labels (`cls`) in the corner. */
  classes: boolean;
  /** The semantic segmentation class map (`seg`), the last one kept for a while (stage-layers.js). */
  segmentation: boolean;
}

/** The segmentation a tile draws now: the last received with a frame, its frame's size, its age. */
export interface ShownSegmentation {
  seg: MetaSegmentation;
  w: number;
  h: number;
  ageMs: number;
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
  /** The segmentation drawn on a stream now (kept from an earlier frame: segmentation runs on some frames only). */
  segmentation(key: string): ShownSegmentation | undefined;
  connected(): boolean;
  /** The `error` messages the hub sent. */
  errors: HubError[];
}

declare global {
  interface Window {
    sightlineViewer: SightlineViewer;
  }
}
