/** Cut a box out of a packed BGR24 frame (for re-ID crops). */
import type { Box } from '@sightline/shared';
import type { ImageBuffer } from '../frame.ts';

/** A frame whose pixels may be a scaled copy of the source frame the boxes refer to. */
export interface CropSource extends ImageBuffer {
  /** Source frame size that boxes are given in. Default: the image's own size. */
  sourceWidth?: number;
  sourceHeight?: number;
}

/**
 * Copy the pixels under `box` (source-frame coordinates, mapped onto the image when it is scaled) into a new
 * packed BGR24 image. The box is clamped to the frame; undefined when less than one pixel of it is inside.
 */
export function cropImage(image: CropSource, box: Box): ImageBuffer | undefined {
  const sx = image.width / (image.sourceWidth ?? image.width);
  const sy = image.height / (image.sourceHeight ?? image.height);
  const x1 = Math.max(0, Math.floor(box[0] * sx));
  const y1 = Math.max(0, Math.floor(box[1] * sy));
  const x2 = Math.min(image.width, Math.ceil(box[2] * sx));
  const y2 = Math.min(image.height, Math.ceil(box[3] * sy));
  if (!(x2 > x1 && y2 > y1)) return undefined;
  const width = x2 - x1;
  const height = y2 - y1;
  const data = new Uint8Array(width * height * 3);
  const stride = image.width * 3;
  for (let y = 0; y < height; y++) {
    const from = (y1 + y) * stride + x1 * 3;
    data.set(image.data.subarray(from, from + width * 3), y * width * 3);
  }
  return { data, width, height };
}
