/**
 * Frame-difference motion mask, the TypeScript twin of edge/native/src/motion.cc (same integers, same result).
 * Luma Y = (29 B + 150 G + 77 R + 128) >> 8 (integer BT.601) of both frames, or the inputs are luma planes already;
 * mask = |Y_cur - Y_prev| > threshold; then a morphological open (erode, dilate: removes specks smaller than the
 * (2r+1)^2 square) and close (dilate, erode: fills small holes), square windows clipped at the frame edge.
 */
import type { MotionOptions, MotionResult } from './types.ts';

function dimension(v: unknown, name: string): number {
  if (typeof v !== 'number') {
    throw new TypeError(`Expected a number for ${name} but received ${String(v)} of type ${typeof v}`);
  }
  if (!Number.isInteger(v) || v < 1 || v > 1 << 20) {
    throw new RangeError(`Expected an integer in [1, ${1 << 20}] for ${name} but received ${v}`);
  }
  return v;
}

function option(v: unknown, fallback: number, name: string, max: number, integer: boolean): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number') {
    throw new TypeError(`Expected a number for ${name} but received ${String(v)} of type ${typeof v}`);
  }
  if (!Number.isFinite(v) || v < 0 || v > max || (integer && !Number.isInteger(v))) {
    throw new RangeError(
      `Expected ${integer ? 'an integer' : 'a finite number'} in [0, ${max}] for ${name} but received ${v}`,
    );
  }
  return v;
}

function luma(src: Uint8Array, n: number, bgr: boolean): Uint8Array {
  if (!bgr) return src.subarray(0, n);
  const y = new Uint8Array(n);
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    y[i] = (29 * src[j]! + 150 * src[j + 1]! + 77 * src[j + 2]! + 128) >> 8;
  }
  return y;
}

/** Min (erode) or max (dilate) over the (2r+1)^2 square clipped to the frame, rows then columns, in place. */
function morph(m: Uint8Array, tmp: Uint8Array, w: number, h: number, r: number, dilate: boolean): void {
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      const a = Math.max(0, x - r);
      const b = Math.min(w - 1, x + r);
      let v = m[row + a]!;
      for (let i = a + 1; i <= b; i++) {
        const s = m[row + i]!;
        if (dilate ? s > v : s < v) v = s;
      }
      tmp[row + x] = v;
    }
  }
  for (let y = 0; y < h; y++) {
    const a = Math.max(0, y - r);
    const b = Math.min(h - 1, y + r);
    const o = y * w;
    m.set(tmp.subarray(a * w, (a + 1) * w), o);
    for (let i = a + 1; i <= b; i++) {
      const t = i * w;
      for (let x = 0; x < w; x++) {
        const s = tmp[t + x]!;
        const v = m[o + x]!;
        if (dilate ? s > v : s < v) m[o + x] = s;
      }
    }
  }
}

/** Motion mask of `cur` against `prev`: both packed BGR24 (width * height * 3 bytes) or both luma (width * height). */
export function motionMask(
  prev: Uint8Array,
  cur: Uint8Array,
  width: number,
  height: number,
  options: MotionOptions = {},
): MotionResult {
  if (!(prev instanceof Uint8Array))
    throw new TypeError(`Expected a Uint8Array for prev but received ${typeof prev}`);
  if (!(cur instanceof Uint8Array))
    throw new TypeError(`Expected a Uint8Array for cur but received ${typeof cur}`);
  const w = dimension(width, 'width');
  const h = dimension(height, 'height');
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Expected an object or undefined for options but received ${String(options)}`);
  }
  const threshold = option(options.threshold, 25, 'threshold', 255, false);
  const openR = option(options.openRadius, 1, 'openRadius', 15, true);
  const closeR = option(options.closeRadius, 1, 'closeRadius', 15, true);
  const n = w * h;
  const bgr = cur.length === n * 3;
  if (!bgr && cur.length !== n) {
    throw new RangeError(
      `Expected cur to hold ${w}x${h}x3 (BGR24) or ${w}x${h} (luma) bytes but it holds ${cur.length}`,
    );
  }
  if (prev.length !== cur.length) {
    throw new RangeError(
      `Expected prev to hold as many bytes as cur (${cur.length}) but it holds ${prev.length}`,
    );
  }
  const yp = luma(prev, n, bgr);
  const yc = luma(cur, n, bgr);
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = Math.abs(yc[i]! - yp[i]!) > threshold ? 255 : 0;
  const tmp = new Uint8Array(n);
  if (openR > 0) {
    morph(mask, tmp, w, h, openR, false);
    morph(mask, tmp, w, h, openR, true);
  }
  if (closeR > 0) {
    morph(mask, tmp, w, h, closeR, true);
    morph(mask, tmp, w, h, closeR, false);
  }
  let changed = 0;
  for (let i = 0; i < n; i++) if (mask[i] !== 0) changed++;
  return { mask, width: w, height: h, changed, fraction: changed / n };
}
