/** The tracker seam: one Tracker per stream, created from the config by `type`. */
import type { Detection, Track, TrackerConfig } from '@sightline/shared';
import { ByteTracker } from './bytetrack.ts';
import { DeepSortTracker } from './deepsort.ts';

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
  /** Forget all tracks (e.g. the source restarted); ids keep increasing, so none is ever reused. */
  reset(): void;
}

type Factory<T extends TrackerConfig['type']> = (config: Extract<TrackerConfig, { type: T }>) => Tracker;

const registry: { [T in TrackerConfig['type']]: Factory<T> } = {
  bytetrack: (config) => new ByteTracker(config),
  deepsort: (config) => new DeepSortTracker(config),
};

/** A new tracker for one stream, chosen by `config.type`. */
export function createTracker(config: TrackerConfig): Tracker {
  const factory = (registry as Record<string, Factory<TrackerConfig['type']> | undefined>)[config?.type];
  if (!factory) {
    throw new TypeError(
      `Expected a tracker type of ${Object.keys(registry).join(', ')} but received ${String(config?.type)} of type ${typeof config?.type}`,
    );
  }
  return factory(config);
}
