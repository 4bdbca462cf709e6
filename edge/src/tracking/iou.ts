/** Intersection-over-union of [x1, y1, x2, y2] boxes, singly and as a matrix. */
import type { Box } from '@sightline/shared';
import type { CostMatrix } from './assignment.ts';

/** IoU of two boxes; 0 when they do not overlap or when the union has no area. */
export function iou(a: Box, b: Box): number {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (!(iw > 0 && ih > 0)) return 0;
  const inter = iw * ih;
  const union = area(a) + area(b) - inter;
  return union > 0 ? inter / union : 0;
}

/** The rows x cols matrix of IoU between every box of `a` (rows) and of `b` (columns). */
export function iouMatrix(a: readonly Box[], b: readonly Box[]): CostMatrix {
  const rows = a.length;
  const cols = b.length;
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const bi = a[i] as Box;
    for (let j = 0; j < cols; j++) data[i * cols + j] = iou(bi, b[j] as Box);
  }
  return { rows, cols, data };
}

function area(b: Box): number {
  return Math.max(0, b[2] - b[0]) * Math.max(0, b[3] - b[1]);
}
