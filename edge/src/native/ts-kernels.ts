/** The TypeScript kernels: the reference implementations, and the fallback when the native addon is not built. */
import type { PreprocessSpec } from '@sightline/shared';
import { denoiseNlmTs } from '../enhance/denoise.ts';
import { bgrToYcbcr } from '../enhance/super-resolution.ts';
import { type CropSource, cropImage } from '../preprocess/crop.ts';
import { preprocessInto } from '../preprocess/preprocess.ts';
import { flattenBoxes } from './boxes.ts';
import { motionMask } from './motion.ts';
import type { CropBatch, CropBoxes, Kernels } from './types.ts';

export { flattenBoxes } from './boxes.ts';

/** Stretch to the output size, bytes unchanged (value = pixel), packed BGR: preprocessInto as a plain resizer. */
const STRETCH_BGR: PreprocessSpec = {
  resize: 'stretch',
  align: 'center',
  padValue: 0,
  layout: 'NHWC',
  colour: 'BGR',
  scale: 1,
  mean: [0, 0, 0],
  std: [1, 1, 1],
};

/** Largest crop side cropResize accepts (both implementations). */
export const MAX_CROP_SIDE = 16384;
/** Largest crop batch cropResize returns, in bytes (both implementations). */
const MAX_CROP_BATCH_BYTES = 1 << 30;

function cropSide(v: unknown, name: string): number {
  if (typeof v !== 'number') {
    throw new TypeError(`Expected a number for ${name} but received ${String(v)} of type ${typeof v}`);
  }
  if (!Number.isInteger(v) || v < 1 || v > MAX_CROP_SIDE) {
    throw new RangeError(`Expected an integer in [1, ${MAX_CROP_SIDE}] for ${name} but received ${v}`);
  }
  return v;
}

function checkFrame(image: CropSource): void {
  if (typeof image !== 'object' || image === null) {
    throw new TypeError(`Expected an ImageBuffer for image but received ${String(image)}`);
  }
  for (const k of ['width', 'height'] as const) {
    const v = image[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new (typeof v === 'number' ? RangeError : TypeError)(
        `Expected a positive integer for image.${k} but received ${String(v)} of type ${typeof v}`,
      );
    }
  }
  if (!(image.data instanceof Uint8Array)) {
    throw new TypeError(`Expected a Uint8Array for image.data but received ${typeof image.data}`);
  }
  const need = image.width * image.height * 3;
  if (image.data.length < need) {
    throw new RangeError(
      `Expected at least ${need} bytes of BGR24 for a ${image.width}x${image.height} image but received ${image.data.length}`,
    );
  }
  for (const k of ['sourceWidth', 'sourceHeight'] as const) {
    const v = image[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 1)) {
      throw new RangeError(`Expected a positive integer for image.${k} but received ${String(v)}`);
    }
  }
}

/** cropResize in TypeScript: cropImage, then preprocessInto as a stretch resizer (the exact pipeline of today). */
export function cropResizeTs(image: CropSource, boxes: CropBoxes, width: number, height: number): CropBatch {
  checkFrame(image);
  const flat = flattenBoxes(boxes);
  const w = cropSide(width, 'width');
  const h = cropSide(height, 'height');
  const count = flat.length / 4;
  const per = w * h * 3;
  if (count * per > MAX_CROP_BATCH_BYTES) {
    throw new RangeError(`Expected the crop batch to fit in 1 GiB but ${count} crops of ${w}x${h} do not`);
  }
  const data = new Uint8Array(count * per);
  const valid = new Uint8Array(count);
  const floats = new Float32Array(per);
  for (let i = 0; i < count; i++) {
    const crop = cropImage(image, [flat[i * 4]!, flat[i * 4 + 1]!, flat[i * 4 + 2]!, flat[i * 4 + 3]!]);
    if (!crop) continue;
    valid[i] = 1;
    preprocessInto(crop, STRETCH_BGR, { width: w, height: h }, floats);
    data.set(floats, i * per);
  }
  return { data, valid, count, width: w, height: h };
}

/** The TypeScript kernels (edge/src/preprocess, edge/src/enhance, ./motion.ts). */
export const tsKernels: Kernels = Object.freeze<Kernels>({
  kind: 'typescript',
  letterboxInto(image, spec, input, out, offset) {
    // preprocessInto trusts its caller on the output's type; the kernels check it as the native ones do.
    if (!(out instanceof Float32Array)) {
      throw new TypeError(
        `Expected a Float32Array for out but received ${Object.prototype.toString.call(out)}`,
      );
    }
    return preprocessInto(image, spec, input, out, offset);
  },
  cropResize: cropResizeTs,
  denoiseNlm: denoiseNlmTs,
  bgrToYcbcr,
  motionMask,
});
