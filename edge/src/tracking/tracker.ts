/** The tracker seam: one Tracker per stream (create-tracker.ts makes one from the config by `type`). */
import type { ClassLabel, Detection, Track } from '@sightline/shared';

/** Per-detection appearance features, index-aligned with the detections passed to `update`. */
export interface Appearance {
  /** One L2-normalised embedding per detection, or undefined where none was computed. */
  embeddings: (Float32Array | undefined)[];
}

/** Associates each frame's detections with persistent tracks of one stream. */
export interface Tracker {
  /**
   * Feed the next frame's detections (source pixels) and get the tracks to report for that frame.
   * Trackers that do not use appearance (ByteTrack) accept and ignore it.
   */
  update(detections: Detection[], appearance?: Appearance): Track[];
  /**
   * Which of the next frame's detections need an embedding (index-aligned), for trackers that use appearance.
   * Trackers without this method use none, and the pipeline computes none for them.
   */
  appearanceWanted?(detections: readonly Detection[]): boolean[];
  /** Every track the tracker still keeps that has an id (confirmed or lost), as of the last update. */
  tracks(): Track[];
  /**
   * Give track `trackId` the labels a classifier found in its crop (stage "classify"); it reports them from its
   * next update on. False when no such track is kept (it ended meanwhile).
   */
  label?(trackId: number, classes: ClassLabel[]): boolean;
  /** Forget all tracks (e.g. the source restarted); ids keep increasing, so none is ever reused. */
  reset(): void;
}
