/** Instance masks from YOLOv8-seg style prototypes: sigmoid(coefficients . prototypes) > 0.5 inside a box. */
import type { Box, Mask } from '@sightline/shared';
import type { Geometry } from '../preprocess/geometry.ts';

/** Mask prototypes of one frame: `count` planes of `width` x `height`, covering the whole model input. */
export interface Prototypes {
  data: Float32Array;
  /** Offset of this frame's first plane in `data`. */
  offset: number;
  count: number;
  width: number;
  height: number;
}

/**
 * The mask of one detection: the prototype cells under `box` (model-input pixels) whose
 * coefficients . prototypes is above 0 (sigmoid above 0.5), as run lengths over those cells, laid over the
 * cells' own box in source pixels. Undefined when the box covers no cell.
 */
export function instanceMask(
  protos: Prototypes,
  coefficients: Float32Array,
  box: Box,
  g: Geometry,
): Mask | undefined {
  const cellW = g.inputWidth / protos.width;
  const cellH = g.inputHeight / protos.height;
  const px1 = Math.max(0, Math.floor(box[0] / cellW));
  const py1 = Math.max(0, Math.floor(box[1] / cellH));
  const px2 = Math.min(protos.width, Math.ceil(box[2] / cellW));
  const py2 = Math.min(protos.height, Math.ceil(box[3] / cellH));
  const w = px2 - px1;
  const h = py2 - py1;
  if (w <= 0 || h <= 0) return undefined;
  const plane = protos.width * protos.height;
  const counts: number[] = [];
  let inside = false;
  let run = 0;
  for (let y = py1; y < py2; y++) {
    for (let x = px1; x < px2; x++) {
      let v = 0;
      let at = protos.offset + y * protos.width + x;
      for (let k = 0; k < protos.count; k++, at += plane) v += coefficients[k]! * protos.data[at]!;
      if (v > 0 !== inside) {
        counts.push(run);
        inside = !inside;
        run = 0;
      }
      run++;
    }
  }
  counts.push(run);
  // Not clipped to the frame: the grid stays regular (an edge cell may reach into the letterbox padding).
  const toSourceX = (x: number) => round1((x * cellW - g.offsetX) / g.scaleX);
  const toSourceY = (y: number) => round1((y * cellH - g.offsetY) / g.scaleY);
  return {
    box: [toSourceX(px1), toSourceY(py1), toSourceX(px2), toSourceY(py2)],
    w,
    h,
    counts,
  };
}

/** Cells inside a mask (the sum of its odd runs). */
export function maskArea(mask: Mask): number {
  let n = 0;
  for (let i = 1; i < mask.counts.length; i += 2) n += mask.counts[i]!;
  return n;
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}
