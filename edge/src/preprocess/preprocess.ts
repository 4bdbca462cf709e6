/** Turns a packed BGR24 image into a model input tensor (resize, pad/crop, layout, colour, normalise) in place. */
import type { PreprocessSpec } from '@sightline/shared';
import type { ImageBuffer } from '../frame.ts';
import { type Geometry, type Placement, planPlacement } from './geometry.ts';

/** An image to preprocess; `sourceWidth/sourceHeight` say which frame size it stands for (default: its own). */
export interface PreprocessImage extends ImageBuffer {
  sourceWidth?: number;
  sourceHeight?: number;
}

/** Model input size in pixels. */
export interface InputSize {
  width: number;
  height: number;
}

// OpenCV INTER_LINEAR fixed point (bit-exact with cv2.resize on 8-bit images, see the vertical pass): 11-bit weights per axis.
const COEF_BITS = 11;
const COEF_ONE = 1 << COEF_BITS;

interface AxisTable {
  /** First source index per destination index (times 3 for x). */
  i0: Int32Array;
  /** Second source index (clamped). */
  i1: Int32Array;
  /** Weights of the first and second index, each rounded on its own as OpenCV does (they may not sum to 2048). */
  w0: Int32Array;
  w1: Int32Array;
}

/** cvRound: nearest integer, ties to even (lrint). */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const tableCache = new Map<string, AxisTable>();
let scratch = new Uint8Array(0);
let rowA = new Int32Array(0);
let rowB = new Int32Array(0);

/** OpenCV's pixel-centre bilinear source positions for `count` destination samples starting at `start`. */
function axisTable(srcLen: number, dstLen: number, start: number, count: number, step: number): AxisTable {
  const key = `${srcLen}:${dstLen}:${start}:${count}:${step}`;
  const hit = tableCache.get(key);
  if (hit) return hit;
  const i0 = new Int32Array(count);
  const i1 = new Int32Array(count);
  const w0 = new Int32Array(count);
  const w1 = new Int32Array(count);
  // OpenCV: scale = 1 / inv_scale with inv_scale = dst / src, and the position in float.
  const scale = 1 / (dstLen / srcLen);
  for (let d = 0; d < count; d++) {
    let f = Math.fround((start + d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    f -= s;
    if (s < 0) {
      s = 0;
      f = 0;
    }
    if (s >= srcLen - 1) {
      s = srcLen - 1;
      f = 0;
    }
    i0[d] = s * step;
    i1[d] = Math.min(s + 1, srcLen - 1) * step;
    w0[d] = roundHalfEven(Math.fround(1 - f) * COEF_ONE);
    w1[d] = roundHalfEven(f * COEF_ONE);
  }
  const table = { i0, i1, w0, w1 };
  if (tableCache.size > 64) tableCache.clear();
  tableCache.set(key, table);
  return table;
}

function horizontal(src: Uint8Array, rowStart: number, xt: AxisTable, out: Int32Array): void {
  const { i0, i1, w0, w1 } = xt;
  const n = i0.length;
  for (let d = 0, o = 0; d < n; d++, o += 3) {
    const a = rowStart + i0[d]!;
    const b = rowStart + i1[d]!;
    const w = w1[d]!;
    const v = w0[d]!;
    out[o] = src[a]! * v + src[b]! * w;
    out[o + 1] = src[a + 1]! * v + src[b + 1]! * w;
    out[o + 2] = src[a + 2]! * v + src[b + 2]! * w;
  }
}

/** Bilinear-resample the placement window of `img` into a packed BGR scratch buffer. */
function resample(img: ImageBuffer, p: Placement): Uint8Array {
  const ww = p.windowWidth;
  const wh = p.windowHeight;
  const need = ww * wh * 3;
  if (scratch.length < need) scratch = new Uint8Array(need);
  if (rowA.length < ww * 3) {
    rowA = new Int32Array(ww * 3);
    rowB = new Int32Array(ww * 3);
  }
  const xt = axisTable(img.width, p.resizedWidth, p.windowX, ww, 3);
  const yt = axisTable(img.height, p.resizedHeight, p.windowY, wh, 1);
  const stride = img.width * 3;
  const src = img.data;
  let ya = -1;
  let yb = -1;
  let ra = rowA;
  let rb = rowB;
  const rowLen = ww * 3;
  for (let dy = 0; dy < wh; dy++) {
    const y0 = yt.i0[dy]!;
    const y1 = yt.i1[dy]!;
    const wy = yt.w1[dy]!;
    // Keep the two most recent source rows; reuse one when it is still needed.
    if (y0 !== ya) {
      if (y0 === yb) {
        const t = ra;
        ra = rb;
        rb = t;
        ya = yb;
        yb = -1;
      } else {
        horizontal(src, y0 * stride, xt, ra);
        ya = y0;
      }
    }
    if (y1 !== yb) {
      if (y1 === ya) {
        rb.set(ra.subarray(0, rowLen));
      } else {
        horizontal(src, y1 * stride, xt, rb);
      }
      yb = y1;
    }
    const wx = yt.w0[dy]!;
    const o = dy * rowLen;
    // OpenCV's SIMD vertical pass (VResizeLinearVec_32s8u): each row >> 4, times its 16-bit weight keeping the
    // high 16 bits, summed, + 2, >> 2. OpenCV finishes a row whose byte width is not a multiple of its vector
    // width with the scalar formula, which can differ by 1 in those last bytes; we use the SIMD form throughout.
    for (let i = 0; i < rowLen; i++) {
      const v = (((ra[i]! >> 4) * wx) >> 16) + (((rb[i]! >> 4) * wy) >> 16) + 2;
      scratch[o + i] = v < 0 ? 0 : v > 1023 ? 255 : v >> 2;
    }
  }
  return scratch;
}

function checkImage(img: PreprocessImage): void {
  for (const k of ['width', 'height'] as const) {
    const v = img[k];
    if (!Number.isInteger(v) || v <= 0) {
      throw new RangeError(
        `Expected a positive integer for image.${k} but received ${v} of type ${typeof v}`,
      );
    }
  }
  if (!(img.data instanceof Uint8Array)) {
    throw new TypeError(`Expected a Uint8Array for image.data but received ${typeof img.data}`);
  }
  const need = img.width * img.height * 3;
  if (img.data.length < need) {
    throw new RangeError(
      `Expected at least ${need} bytes of BGR24 for a ${img.width}x${img.height} image but received ${img.data.length}`,
    );
  }
}

/**
 * Write `image` into `out` starting at element `offset` as the model input described by `spec` and `input`,
 * and return the geometry that maps model coordinates back to the source frame (`image.sourceWidth/Height`).
 * Images already at the resized size (a decoder that pre-scaled) are copied without resampling.
 * The reference of the native letterboxInto kernel (edge/native/src/preprocess.cc), which ModelSession.prepare runs
 * instead when @sightline/native is loaded (`kernels`, edge/src/native): a change here must be made there too.
 */
export function preprocessInto(
  image: PreprocessImage,
  spec: PreprocessSpec,
  input: InputSize,
  out: Float32Array,
  offset = 0,
): Geometry {
  checkImage(image);
  const channels = spec.colour === 'Y' ? 1 : 3;
  const W = input.width;
  const H = input.height;
  const p = planPlacement(spec, image.sourceWidth ?? image.width, image.sourceHeight ?? image.height, W, H);
  const size = channels * W * H;
  if (!Number.isInteger(offset) || offset < 0) {
    throw new RangeError(
      `Expected a non-negative integer for offset but received ${offset} of type ${typeof offset}`,
    );
  }
  if (out.length < offset + size) {
    throw new RangeError(`Expected an output of at least ${offset + size} floats but received ${out.length}`);
  }

  // Source of window pixels: the image itself when no resampling is needed, else the resampled scratch.
  let src: Uint8Array;
  let srcStride: number;
  let srcX: number;
  let srcY: number;
  if (image.width === p.resizedWidth && image.height === p.resizedHeight) {
    src = image.data;
    srcStride = image.width * 3;
    srcX = p.windowX;
    srcY = p.windowY;
  } else {
    src = resample(image, p);
    srcStride = p.windowWidth * 3;
    srcX = 0;
    srcY = 0;
  }

  const scale = spec.scale;
  const mean = spec.mean;
  const std = spec.std;
  const nhwc = spec.layout === 'NHWC';
  const ww = p.windowWidth;
  const wh = p.windowHeight;
  const covers = p.destX === 0 && p.destY === 0 && ww === W && wh === H;

  if (channels === 1) {
    const pad = (spec.padValue * scale - mean[0]) / std[0];
    if (!covers) out.fill(pad, offset, offset + size);
    const k = scale / std[0];
    const m = mean[0] / std[0];
    for (let y = 0; y < wh; y++) {
      let s = (srcY + y) * srcStride + srcX * 3;
      let o = offset + (p.destY + y) * W + p.destX;
      for (let x = 0; x < ww; x++, s += 3, o++) {
        // BT.601 luma from B, G, R.
        out[o] = (0.114 * src[s]! + 0.587 * src[s + 1]! + 0.299 * src[s + 2]!) * k - m;
      }
    }
    return toGeometry(p);
  }

  // Per model channel c: which BGR byte feeds it, and a 256-entry lookup table of normalised values.
  const order = spec.colour === 'RGB' ? [2, 1, 0] : [0, 1, 2];
  const luts = lookupTables(spec);
  const l0 = luts[0]!;
  const l1 = luts[1]!;
  const l2 = luts[2]!;
  const b0 = order[0]!;
  const b1 = order[1]!;
  const b2 = order[2]!;
  const pads = [0, 1, 2].map((c) => (spec.padValue * scale - mean[c]!) / std[c]!);

  if (!nhwc) {
    const plane = W * H;
    if (!covers) for (let c = 0; c < 3; c++) fillBorder(out, offset + c * plane, W, H, p, pads[c]!);
    // Whole rows on both sides (a decoder-scaled letterbox): one flat run instead of one run per row.
    const flat = srcX === 0 && srcStride === ww * 3 && p.destX === 0 && ww === W;
    const rows = flat ? 1 : wh;
    const run = flat ? ww * wh : ww;
    for (let y = 0; y < rows; y++) {
      const s = (srcY + y) * srcStride + srcX * 3;
      const o = offset + (p.destY + y) * W + p.destX;
      planarRun(src, s, out, o, run, plane, l0, l1, l2, b0, b1, b2);
    }
  } else {
    if (!covers) {
      for (let o = offset, end = offset + size; o < end; o += 3) {
        out[o] = pads[0]!;
        out[o + 1] = pads[1]!;
        out[o + 2] = pads[2]!;
      }
    }
    for (let y = 0; y < wh; y++) {
      let s = (srcY + y) * srcStride + srcX * 3;
      let o = offset + ((p.destY + y) * W + p.destX) * 3;
      const end = o + ww * 3;
      for (; o < end; o += 3, s += 3) {
        out[o] = l0[src[s + b0]!]!;
        out[o + 1] = l1[src[s + b1]!]!;
        out[o + 2] = l2[src[s + b2]!]!;
      }
    }
  }
  return toGeometry(p);
}

/** `n` packed pixels from `src[s]` into three planes `plane` apart from `out[o]`, each byte through its channel's table. */
function planarRun(
  src: Uint8Array,
  s: number,
  out: Float32Array,
  o: number,
  n: number,
  plane: number,
  l0: Float32Array,
  l1: Float32Array,
  l2: Float32Array,
  b0: number,
  b1: number,
  b2: number,
): void {
  const p2 = 2 * plane;
  for (const end = o + n; o < end; o++, s += 3) {
    out[o] = l0[src[s + b0]!]!;
    out[o + plane] = l1[src[s + b1]!]!;
    out[o + p2] = l2[src[s + b2]!]!;
  }
}

/** Fill the part of one W x H plane at `offset` that the placement's window does not cover. */
function fillBorder(
  out: Float32Array,
  offset: number,
  W: number,
  H: number,
  p: Placement,
  value: number,
): void {
  const top = p.destY;
  const bottom = p.destY + p.windowHeight;
  out.fill(value, offset, offset + top * W);
  out.fill(value, offset + bottom * W, offset + H * W);
  if (p.destX === 0 && p.windowWidth === W) return;
  for (let y = top; y < bottom; y++) {
    const row = offset + y * W;
    out.fill(value, row, row + p.destX);
    out.fill(value, row + p.destX + p.windowWidth, row + W);
  }
}

const lutCache = new WeakMap<PreprocessSpec, Float32Array[]>();

/** value = (v * scale - mean[c]) / std[c] for every byte value, per model channel; cached per spec object. */
function lookupTables(spec: PreprocessSpec): Float32Array[] {
  let luts = lutCache.get(spec);
  if (!luts) {
    luts = [0, 1, 2].map((c) => {
      const lut = new Float32Array(256);
      for (let v = 0; v < 256; v++) lut[v] = (v * spec.scale - spec.mean[c]!) / spec.std[c]!;
      return lut;
    });
    lutCache.set(spec, luts);
  }
  return luts;
}

function toGeometry(p: Placement): Geometry {
  return {
    scaleX: p.scaleX,
    scaleY: p.scaleY,
    offsetX: p.offsetX,
    offsetY: p.offsetY,
    sourceWidth: p.sourceWidth,
    sourceHeight: p.sourceHeight,
    inputWidth: p.inputWidth,
    inputHeight: p.inputHeight,
  };
}
