/**
 * COCO run-length encoding of instance masks, for files that COCO tools read (pycocotools' `frPyObjects`, supervision).
 *
 * On the wire a mask is compact: a `w` x `h` grid of model cells laid over its own `box`, run lengths in row-major
 * order (shared/src/types.ts `Mask`). COCO's uncompressed RLE is over the whole image: `{size: [height, width],
 * counts}`, the runs in column-major (Fortran) order, alternating outside / inside and starting with a run of
 * outside pixels (0 when the first pixel is inside).
 */
import type { Mask } from '@sightline/shared';

/** A COCO uncompressed RLE: `size` is [height, width] of the frame; `counts` column-major runs, outside first. */
export interface CocoRle {
  size: [number, number];
  counts: number[];
}

/**
 * Place a wire mask into a `width` x `height` frame and encode it as COCO RLE. A frame pixel is inside when its
 * centre falls in an inside cell of the mask's grid (nearest-neighbour upsampling of the cells); the parts of the
 * grid past the frame's edges (letterbox padding) are cut off. Malformed runs are read as far as they go: missing
 * cells are outside, extra runs are ignored.
 */
export function maskToCocoRle(mask: Mask, width: number, height: number): CocoRle {
  const W = Math.max(0, Math.floor(width));
  const H = Math.max(0, Math.floor(height));
  const { w, h } = mask;
  const out = new RunWriter();
  const [bx1, by1, bx2, by2] = mask.box;
  if (!(w > 0 && h > 0 && bx2 > bx1 && by2 > by1) || W === 0 || H === 0) {
    out.push(0, W * H);
    return { size: [H, W], counts: out.finish() };
  }
  const grid = gridOf(mask);
  // Frame rows of grid row r: [rowStart[r], rowStart[r + 1]); frame columns of grid column c likewise.
  const rowStart = edges(by1, (by2 - by1) / h, h, H);
  const colStart = edges(bx1, (bx2 - bx1) / w, w, W);
  // The runs down one frame column under grid column c (the same for every frame column of c), made once.
  const columnRuns = new Map<number, number[]>();
  const runsOf = (c: number): number[] => {
    let runs = columnRuns.get(c);
    if (runs) return runs;
    runs = [];
    let value = 0;
    let run = rowStart[0]!;
    for (let r = 0; r < h; r++) {
      const v = grid[r * w + c]!;
      const len = rowStart[r + 1]! - rowStart[r]!;
      if (len === 0) continue;
      if (v === value) run += len;
      else {
        runs.push(value, run);
        value = v;
        run = len;
      }
    }
    if (value === 0) run += H - rowStart[h]!;
    else {
      runs.push(value, run);
      value = 0;
      run = H - rowStart[h]!;
    }
    runs.push(value, run);
    columnRuns.set(c, runs);
    return runs;
  };
  out.push(0, colStart[0]! * H);
  for (let c = 0; c < w; c++) {
    const n = colStart[c + 1]! - colStart[c]!;
    if (n === 0) continue;
    const runs = runsOf(c);
    for (let k = 0; k < n; k++) for (let i = 0; i < runs.length; i += 2) out.push(runs[i]!, runs[i + 1]!);
  }
  out.push(0, (W - colStart[w]!) * H);
  return { size: [H, W], counts: out.finish() };
}

/** Whether a value looks like a wire `Mask` (what the JSONL sink converts). */
export function isWireMask(value: unknown): value is Mask {
  if (value === null || typeof value !== 'object') return false;
  const m = value as Partial<Mask>;
  return (
    Array.isArray(m.box) &&
    m.box.length === 4 &&
    typeof m.w === 'number' &&
    typeof m.h === 'number' &&
    Array.isArray(m.counts)
  );
}

/** The grid of a wire mask: w * h cells, row-major, 1 inside. */
function gridOf(mask: Mask): Uint8Array {
  const n = mask.w * mask.h;
  const grid = new Uint8Array(n);
  let at = 0;
  for (let i = 0; i < mask.counts.length && at < n; i++) {
    const run = Math.max(0, Math.floor(mask.counts[i] ?? 0));
    const end = Math.min(n, at + run);
    if (i % 2 === 1) grid.fill(1, at, end);
    at = end;
  }
  return grid;
}

/**
 * The first frame pixel of each of `cells` cells starting at `origin`, `size` pixels each, plus the end: pixel p
 * is in cell k when origin + k * size <= p + 0.5 < origin + (k + 1) * size; clamped to [0, limit]. A centre on a
 * cell border (frequent: boxes are in tenths of a pixel) belongs to the later cell despite rounding errors.
 */
function edges(origin: number, size: number, cells: number, limit: number): Int32Array {
  const e = new Int32Array(cells + 1);
  for (let k = 0; k <= cells; k++) {
    e[k] = Math.min(limit, Math.max(0, Math.ceil(origin + k * size - 0.5 - 1e-6)));
  }
  return e;
}

/** Accumulates runs of 0 / 1, merging equal neighbours; the first run is of 0 (possibly empty). */
class RunWriter {
  readonly #counts: number[] = [];
  #value = 0;
  #run = 0;

  push(value: number, len: number): void {
    if (len <= 0) return;
    if (value === this.#value) this.#run += len;
    else {
      this.#counts.push(this.#run);
      this.#value = value;
      this.#run = len;
    }
  }

  finish(): number[] {
    this.#counts.push(this.#run);
    return this.#counts;
  }
}
