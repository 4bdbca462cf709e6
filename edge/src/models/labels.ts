/** Class label lists: the built-in COCO-80 and VOC-21 lists and a loader for label files such as imagenet_classes.txt. */
import { readFile } from 'node:fs/promises';
import { ModelError } from '@sightline/shared/errors';

/** The 80 COCO detection classes in model output order (YOLOX, YOLOv8). */
export const coco80: readonly string[] = Object.freeze([
  'person',
  'bicycle',
  'car',
  'motorcycle',
  'airplane',
  'bus',
  'train',
  'truck',
  'boat',
  'traffic light',
  'fire hydrant',
  'stop sign',
  'parking meter',
  'bench',
  'bird',
  'cat',
  'dog',
  'horse',
  'sheep',
  'cow',
  'elephant',
  'bear',
  'zebra',
  'giraffe',
  'backpack',
  'umbrella',
  'handbag',
  'tie',
  'suitcase',
  'frisbee',
  'skis',
  'snowboard',
  'sports ball',
  'kite',
  'baseball bat',
  'baseball glove',
  'skateboard',
  'surfboard',
  'tennis racket',
  'bottle',
  'wine glass',
  'cup',
  'fork',
  'knife',
  'spoon',
  'bowl',
  'banana',
  'apple',
  'sandwich',
  'orange',
  'broccoli',
  'carrot',
  'hot dog',
  'pizza',
  'donut',
  'cake',
  'chair',
  'couch',
  'potted plant',
  'bed',
  'dining table',
  'toilet',
  'tv',
  'laptop',
  'mouse',
  'remote',
  'keyboard',
  'cell phone',
  'microwave',
  'oven',
  'toaster',
  'sink',
  'refrigerator',
  'book',
  'clock',
  'vase',
  'scissors',
  'teddy bear',
  'hair drier',
  'toothbrush',
]);

/** The 21 PASCAL VOC segmentation classes (0 = background, 15 = person). */
export const voc21: readonly string[] = Object.freeze([
  'background',
  'aeroplane',
  'bicycle',
  'bird',
  'boat',
  'bottle',
  'bus',
  'car',
  'cat',
  'chair',
  'cow',
  'diningtable',
  'dog',
  'horse',
  'motorbike',
  'person',
  'pottedplant',
  'sheep',
  'sofa',
  'train',
  'tvmonitor',
]);

/** Built-in label lists by the name a manifest entry's `labels` field uses. */
export const builtinLabels: Readonly<Record<string, readonly string[]>> = Object.freeze({ coco80, voc21 });

/**
 * Parse a label file: one label per line, line i = class i. CRLF and one trailing newline are accepted;
 * an empty file or an empty line in the middle is rejected with MODEL_INVALID naming the source and line.
 */
export function parseLabels(text: string, source: string): string[] {
  if (typeof text !== 'string') {
    throw new TypeError(`Expected a string for text but received ${String(text)} of type ${typeof text}`);
  }
  const body = text.replace(/^\uFEFF/, '').replace(/\r?\n$/, '');
  if (body.trim() === '') throw new ModelError('MODEL_INVALID', `Label file ${source} is empty`);
  const labels = body.split(/\r?\n/).map((line) => line.trim());
  const blank = labels.indexOf('');
  if (blank >= 0) {
    throw new ModelError(
      'MODEL_INVALID',
      `Label file ${source} has an empty line at line ${blank + 1}; every line must name class ${blank}`,
    );
  }
  return labels;
}

/** Read and parse a label file (see parseLabels); a missing file gives MODEL_MISSING naming the path. */
export async function loadLabelFile(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new ModelError('MODEL_MISSING', `Label file ${path} does not exist`, { cause: err });
    throw new ModelError('MODEL_INVALID', `Cannot read label file ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return parseLabels(text, path);
}
