/** Small helpers the trackers share. */
import type { Detection } from '@sightline/shared';

/** A detection with a finite, non-empty box and a finite score; trackers ignore the others. */
export function isUsableDetection(d: Detection): boolean {
  const [x1, y1, x2, y2] = d.box;
  return (
    Number.isFinite(x1) &&
    Number.isFinite(y1) &&
    Number.isFinite(x2) &&
    Number.isFinite(y2) &&
    x2 > x1 &&
    y2 > y1 &&
    Number.isFinite(d.score)
  );
}
