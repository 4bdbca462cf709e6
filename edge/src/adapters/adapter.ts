/** Adapter registry: picks the output decoder a manifest entry names. */
import type { ModelEntry } from '@sightline/shared';
import { ModelError } from '@sightline/shared/errors';
import type { DetectionAdapter } from './types.ts';
import { Yolov8Adapter } from './yolov8.ts';
import { YoloxAdapter } from './yolox.ts';

export type { DecodeOptions, DetectionAdapter, OutputMap, OutputTensor } from './types.ts';

/** The adapters whose models give boxes: what detector.model may name. */
export const DETECTION_ADAPTERS: readonly string[] = ['yolox', 'yolov8', 'yolov8-seg'];

/** A detection decoder for `entry` (adapter "yolox", "yolov8" or "yolov8-seg") using `labels` for class names. */
export function createDetectionAdapter(
  entry: Pick<ModelEntry, 'id' | 'adapter' | 'outputs'>,
  labels: readonly string[],
): DetectionAdapter {
  switch (entry.adapter) {
    case 'yolox':
      return new YoloxAdapter(entry, labels);
    case 'yolov8':
    case 'yolov8-seg':
      return new Yolov8Adapter(entry, labels);
    default:
      throw new ModelError(
        'MODEL_INVALID',
        `Model ${entry.id} uses adapter "${entry.adapter}", which is not a detection adapter (${DETECTION_ADAPTERS.join(', ')})`,
      );
  }
}
