/**
 * x3 super-resolution with super_resolution.onnx (the PyTorch tutorial ESPCN-style model: input [n,1,224,224] = Y of
 * YCbCr / 255, output [n,1,672,672]), plus the plain bicubic x3 upscaler used for Cb/Cr and as the baseline.
 *
 * The image goes to YCbCr (BT.601 full range, as PIL and the tutorial do); Y runs through the model in 224x224 tiles,
 * Cb and Cr are upscaled bicubically, and the result goes back to BGR. An image that fits one tile is one run
 * (bottom/right padded by replicating the border). A larger image is cut into tiles whose cores are 224 - 2 * overlap
 * wide and which carry `overlap` pixels of real context on every side (replicated past the image edge); only each
 * tile's core is kept, so the model's zero padding never touches a seam (its receptive field is about +-5 pixels).
 * DATA.md: on real photos the model is 2-3 dB below bicubic; it is here for the plumbing, not for quality.
 */
import ort from 'onnxruntime-node';
import type { ImageBuffer } from '../frame.ts';
import { checkImage, checkNumber, checkOptions, checkPlane } from './check.ts';

/** Model input side (pixels). */
export const SR_TILE = 224;
/** Model output side (pixels): SR_TILE * 3. */
export const SR_TILE_OUT = 672;

/** Runs the model on `count` tiles packed as [count,1,224,224] (Y / 255); resolves to [count,1,672,672]. */
export type SuperResolutionRunner = (tiles: Float32Array, count: number) => Promise<Float32Array>;
/** An onnxruntime InferenceSession for super_resolution.onnx, or anything with the same run/inputNames/outputNames. */
export type SuperResolutionSession = Pick<ort.InferenceSession, 'inputNames' | 'outputNames' | 'run'>;

/** Options for superResolveX3 and superResolveLumaX3. */
export interface SuperResolutionOptions {
  /** Tiles per model run, 1..64 (the manifest's maxBatch is 32). Default 8. */
  batchSize?: number;
  /** Context pixels around each tile's core when the image needs several tiles, 0..64. Default 8. */
  overlap?: number;
}

/** Y, Cb, Cr planes (0..255 floats) of a width x height image. */
export interface YCbCrPlanes {
  y: Float32Array;
  cb: Float32Array;
  cr: Float32Array;
  width: number;
  height: number;
}

/** BGR24 to YCbCr planes, BT.601 full range (JFIF, as PIL's convert('YCbCr')). */
export function bgrToYcbcr(image: ImageBuffer): YCbCrPlanes {
  const { data, width, height } = checkImage(image);
  const n = width * height;
  const y = new Float32Array(n);
  const cb = new Float32Array(n);
  const cr = new Float32Array(n);
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const b = data[j]!;
    const g = data[j + 1]!;
    const r = data[j + 2]!;
    y[i] = 0.299 * r + 0.587 * g + 0.114 * b;
    cb[i] = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b;
    cr[i] = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b;
  }
  return { y, cb, cr, width, height };
}

/** YCbCr planes (BT.601 full range) back to BGR24, rounded and clipped to 0..255. */
export function ycbcrToBgr(planes: YCbCrPlanes): ImageBuffer {
  checkOptions(planes, 'planes');
  const { y, cb, cr, width, height } = planes;
  checkPlane(y, width, height, 'planes.y');
  checkPlane(cb, width, height, 'planes.cb');
  checkPlane(cr, width, height, 'planes.cr');
  const n = width * height;
  const out = new Uint8Array(n * 3);
  const clip = (v: number) => Math.min(255, Math.max(0, Math.round(v)));
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const yy = y[i]!;
    const u = cb[i]! - 128;
    const v = cr[i]! - 128;
    out[j] = clip(yy + 1.772 * u);
    out[j + 1] = clip(yy - 0.344136 * u - 0.714136 * v);
    out[j + 2] = clip(yy + 1.402 * v);
  }
  return { data: out, width, height };
}

/** Keys cubic kernel with a = -0.5 (PIL's BICUBIC). */
function cubic(x: number): number {
  const a = -0.5;
  const t = Math.abs(x);
  if (t <= 1) return (a + 2) * t * t * t - (a + 3) * t * t + 1;
  if (t < 2) return a * t * t * t - 5 * a * t * t + 8 * a * t - 4 * a;
  return 0;
}

// Output sample 3i + k sits at source i + (k - 1) / 3 (pixel centres aligned): taps start at i + TAP0[k].
const TAP0 = [-2, -1, -1];
const TAPW = [0, 1, 2].map((k) => {
  const pos = (k - 1) / 3;
  const first = TAP0[k]!;
  return [0, 1, 2, 3].map((m) => cubic(pos - (first + m)));
});

/** Bicubic x3 upscale of one plane (Keys a = -0.5, centres aligned, border replicated); returns 3w x 3h. */
export function upscalePlaneBicubicX3(plane: Float32Array, width: number, height: number): Float32Array {
  checkPlane(plane, width, height);
  const w3 = width * 3;
  const tmp = new Float32Array(w3 * height);
  const cx = (i: number) => (i < 0 ? 0 : i >= width ? width - 1 : i);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      for (let k = 0; k < 3; k++) {
        const wt = TAPW[k]!;
        const s = x + TAP0[k]!;
        tmp[y * w3 + 3 * x + k] =
          wt[0]! * plane[row + cx(s)]! +
          wt[1]! * plane[row + cx(s + 1)]! +
          wt[2]! * plane[row + cx(s + 2)]! +
          wt[3]! * plane[row + cx(s + 3)]!;
      }
    }
  }
  const out = new Float32Array(w3 * height * 3);
  const cy = (i: number) => (i < 0 ? 0 : i >= height ? height - 1 : i);
  for (let y = 0; y < height; y++) {
    for (let k = 0; k < 3; k++) {
      const wt = TAPW[k]!;
      const s = y + TAP0[k]!;
      const r0 = cy(s) * w3;
      const r1 = cy(s + 1) * w3;
      const r2 = cy(s + 2) * w3;
      const r3 = cy(s + 3) * w3;
      const o = (3 * y + k) * w3;
      for (let x = 0; x < w3; x++) {
        out[o + x] =
          wt[0]! * tmp[r0 + x]! + wt[1]! * tmp[r1 + x]! + wt[2]! * tmp[r2 + x]! + wt[3]! * tmp[r3 + x]!;
      }
    }
  }
  return out;
}

/** Bicubic x3 upscale of a BGR24 image (each channel as upscalePlaneBicubicX3): the baseline to compare SR with. */
export function upscaleBicubicX3(image: ImageBuffer): ImageBuffer {
  const { data, width, height } = checkImage(image);
  const n = width * height;
  const out = new Uint8Array(n * 27);
  for (let c = 0; c < 3; c++) {
    const plane = new Float32Array(n);
    for (let i = 0; i < n; i++) plane[i] = data[i * 3 + c]!;
    const up = upscalePlaneBicubicX3(plane, width, height);
    for (let i = 0; i < up.length; i++) out[i * 3 + c] = Math.min(255, Math.max(0, Math.round(up[i]!)));
  }
  return { data: out, width: width * 3, height: height * 3 };
}

function toRunner(model: SuperResolutionSession | SuperResolutionRunner): SuperResolutionRunner {
  if (typeof model === 'function') return model;
  if (typeof model !== 'object' || model === null || typeof model.run !== 'function') {
    throw new TypeError('Expected an InferenceSession or a runner function for model');
  }
  const input = model.inputNames[0];
  const output = model.outputNames[0];
  if (!input || !output) throw new TypeError('Expected model to have an input and an output');
  return async (tiles, count) => {
    const result = await model.run({
      [input]: new ort.Tensor('float32', tiles, [count, 1, SR_TILE, SR_TILE]),
    });
    const data = result[output]?.data;
    if (!(data instanceof Float32Array)) throw new TypeError(`Model output ${output} is not float32`);
    return data;
  };
}

/** Super-resolve a Y plane (0..255 floats, width x height) x3 through the model in tiles; returns 3w x 3h floats. */
export async function superResolveLumaX3(
  y: Float32Array,
  width: number,
  height: number,
  model: SuperResolutionSession | SuperResolutionRunner,
  options: SuperResolutionOptions = {},
): Promise<Float32Array> {
  checkPlane(y, width, height, 'y');
  checkOptions(options);
  const batchSize = checkNumber(options.batchSize, 8, 'options.batchSize', 1, 64, true);
  const overlapOpt = checkNumber(options.overlap, 8, 'options.overlap', 0, 64, true);
  const run = toRunner(model);
  // One tile needs no context: it is the model on the (replicate-padded) image.
  const m = width <= SR_TILE && height <= SR_TILE ? 0 : overlapOpt;
  const core = SR_TILE - 2 * m;
  if (core < 1) throw new RangeError(`options.overlap ${overlapOpt} leaves no tile core`);
  const origins: [number, number][] = [];
  for (let ty = 0; ty < height; ty += core) for (let tx = 0; tx < width; tx += core) origins.push([tx, ty]);

  const w3 = width * 3;
  const out = new Float32Array(w3 * height * 3);
  const tileIn = SR_TILE * SR_TILE;
  const tileOut = SR_TILE_OUT * SR_TILE_OUT;
  for (let first = 0; first < origins.length; first += batchSize) {
    const batch = origins.slice(first, first + batchSize);
    const tiles = new Float32Array(batch.length * tileIn);
    batch.forEach(([tx, ty], t) => {
      for (let r = 0; r < SR_TILE; r++) {
        const sy = Math.min(height - 1, Math.max(0, ty - m + r)) * width;
        const o = t * tileIn + r * SR_TILE;
        for (let c = 0; c < SR_TILE; c++) {
          tiles[o + c] = y[sy + Math.min(width - 1, Math.max(0, tx - m + c))]! / 255;
        }
      }
    });
    const result = await run(tiles, batch.length);
    if (!(result instanceof Float32Array) || result.length !== batch.length * tileOut) {
      throw new RangeError(
        `Expected the model to return ${batch.length}x1x${SR_TILE_OUT}x${SR_TILE_OUT} floats but got ${result?.length}`,
      );
    }
    batch.forEach(([tx, ty], t) => {
      const cw = 3 * Math.min(core, width - tx);
      const ch = 3 * Math.min(core, height - ty);
      for (let r = 0; r < ch; r++) {
        const src = t * tileOut + (3 * m + r) * SR_TILE_OUT + 3 * m;
        const dst = (3 * ty + r) * w3 + 3 * tx;
        for (let c = 0; c < cw; c++) out[dst + c] = result[src + c]! * 255;
      }
    });
  }
  return out;
}

/** x3 super-resolution of a BGR24 image: Y through the model (tiled, batched), Cb/Cr bicubic; returns 3w x 3h. */
export async function superResolveX3(
  image: ImageBuffer,
  model: SuperResolutionSession | SuperResolutionRunner,
  options: SuperResolutionOptions = {},
): Promise<ImageBuffer> {
  const { y, cb, cr, width, height } = bgrToYcbcr(image);
  const y3 = await superResolveLumaX3(y, width, height, model, options);
  return ycbcrToBgr({
    y: y3,
    cb: upscalePlaneBicubicX3(cb, width, height),
    cr: upscalePlaneBicubicX3(cr, width, height),
    width: width * 3,
    height: height * 3,
  });
}
