/**
 * Mask helpers for the sink tests, written independently of coco-rle.ts: a COCO RLE decoder (column-major, as
 * pycocotools decodes), a per-pixel rasteriser of wire masks, and builders of known masks.
 */
import type { Box, Mask } from '@sightline/shared';

/** A binary image, row-major: `data[y * width + x]` is 1 inside. */
export interface Bitmap {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Decode a COCO uncompressed RLE `{size: [h, w], counts}`: runs in column-major order, starting outside. */
export function decodeCocoRle(rle: { size: [number, number]; counts: number[] }): Bitmap {
  const [height, width] = rle.size;
  const data = new Uint8Array(width * height);
  let k = 0;
  rle.counts.forEach((run, i) => {
    for (let j = 0; j < run; j++, k++) {
      if (i % 2 === 1) data[(k % height) * width + Math.floor(k / height)] = 1;
    }
  });
  if (k !== width * height) throw new RangeError(`COCO counts cover ${k} pixels, not ${width} x ${height}`);
  return { width, height, data };
}

/** Row-major wire runs (outside first) of a grid given as rows of 0 / 1. */
export function wireCounts(rows: number[][]): number[] {
  const counts: number[] = [];
  let value = 0;
  let run = 0;
  for (const v of rows.flat()) {
    if (v !== value) {
      counts.push(run);
      value = v;
      run = 0;
    }
    run++;
  }
  counts.push(run);
  return counts;
}

/** A wire mask of a grid (rows of 0 / 1) laid over `box`. */
export function wireMask(box: Box, rows: number[][]): Mask {
  return { box, w: rows[0]!.length, h: rows.length, counts: wireCounts(rows) };
}

/** A width x height bitmap with the given [x1, y1, x2, y2) pixel rectangles set. */
export function bitmapOf(width: number, height: number, rects: [number, number, number, number][]): Bitmap {
  const data = new Uint8Array(width * height);
  for (const [x1, y1, x2, y2] of rects) {
    for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) data[y * width + x] = 1;
  }
  return { width, height, data };
}

/**
 * Rasterise a wire mask over a frame pixel by pixel: inside when the pixel's centre is in an inside cell (cells
 * are half-open: a centre on a border, up to rounding, is in the later cell).
 */
export function rasterise(mask: Mask, width: number, height: number): Bitmap {
  const grid: number[] = [];
  mask.counts.forEach((run, i) => {
    for (let j = 0; j < run; j++) grid.push(i % 2);
  });
  const [x1, y1, x2, y2] = mask.box;
  const cw = (x2 - x1) / mask.w;
  const ch = (y2 - y1) / mask.h;
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const r = Math.floor((y + 0.5 - y1) / ch + 1e-6);
    if (r < 0 || r >= mask.h) continue;
    for (let x = 0; x < width; x++) {
      const c = Math.floor((x + 0.5 - x1) / cw + 1e-6);
      if (c >= 0 && c < mask.w && grid[r * mask.w + c] === 1) data[y * width + x] = 1;
    }
  }
  return { width, height, data };
}

/** Pixels that differ between two bitmaps of one size, as "x,y" (the first few), for assertion messages. */
export function differences(a: Bitmap, b: Bitmap, max = 5): string[] {
  const out: string[] = [];
  for (let i = 0; i < a.data.length && out.length < max; i++) {
    if (a.data[i] !== b.data[i]) out.push(`${i % a.width},${Math.floor(i / a.width)}`);
  }
  return out;
}
