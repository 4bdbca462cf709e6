/** The trackers by config `type`: ByteTrack and DeepSORT. */
import type { TrackerConfig } from '@sightline/shared';
import { ByteTracker } from './bytetrack.ts';
import { DeepSortTracker } from './deepsort.ts';
import type { Tracker } from './tracker.ts';

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
