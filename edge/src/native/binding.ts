/** The raw N-API surface of @sightline/native (edge/native/src/*.cc) and the Kernels wrapper around it. */
import type { PreprocessSpec } from '@sightline/shared';
import { checkOptions } from '../enhance/check.ts';
import type { DenoiseOptions } from '../enhance/denoise-options.ts';
import { NLM_EXP_LUT } from '../enhance/nlm-table.ts';
import type { YCbCrPlanes } from '../enhance/super-resolution.ts';
import type { ImageBuffer } from '../frame.ts';
import type { CropSource } from '../preprocess/crop.ts';
import type { Geometry } from '../preprocess/geometry.ts';
import type { InputSize, PreprocessImage } from '../preprocess/preprocess.ts';
import { flattenBoxes } from './boxes.ts';
import type { CropBatch, CropBoxes, Kernels, MotionOptions, MotionResult } from './types.ts';

/**
 * Bumped with any change of the functions below; the loader refuses an addon built for another version.
 * 2: denoiseNlm takes the weight table (expLut) from JavaScript.
 */
export const NATIVE_ABI_VERSION = 2;

/** What the addon exports. Every function checks its arguments and throws TypeError/RangeError. */
export interface NativeBinding {
  abiVersion: number;
  letterboxInto(
    src: Uint8Array,
    srcW: number,
    srcH: number,
    spec: PreprocessSpec,
    inputW: number,
    inputH: number,
    dst: Float32Array,
    offset?: number,
    sourceW?: number,
    sourceH?: number,
  ): Geometry;
  cropResize(
    src: Uint8Array,
    srcW: number,
    srcH: number,
    boxes: Float32Array | Float64Array | number[],
    outW: number,
    outH: number,
    sourceW?: number,
    sourceH?: number,
  ): { data: Uint8Array; valid: Uint8Array };
  denoiseNlm(
    src: Uint8Array,
    width: number,
    height: number,
    h?: number,
    patchSize?: number,
    searchSize?: number,
    /** NLM_EXP_LUT (./nlm-table.ts): the weights, so both implementations use the same ones. */
    expLut?: Float64Array,
  ): Uint8Array;
  bgrToYcbcr(src: Uint8Array, width: number, height: number): YCbCrPlanes;
  motionMask(
    prev: Uint8Array,
    cur: Uint8Array,
    width: number,
    height: number,
    threshold?: number,
    openRadius?: number,
    closeRadius?: number,
  ): { mask: Uint8Array; changed: number; fraction: number };
}

function objectArg<T>(v: T, name: string): T {
  if (typeof v !== 'object' || v === null) {
    throw new TypeError(`Expected an object for ${name} but received ${String(v)}`);
  }
  return v;
}

/** The Kernels interface over a loaded addon. */
export function wrapBinding(b: NativeBinding): Kernels {
  return Object.freeze<Kernels>({
    kind: 'native',
    letterboxInto(
      image: PreprocessImage,
      spec: PreprocessSpec,
      input: InputSize,
      out: Float32Array,
      offset = 0,
    ): Geometry {
      objectArg(image, 'image');
      objectArg(input, 'input');
      return b.letterboxInto(
        image.data,
        image.width,
        image.height,
        spec,
        input.width,
        input.height,
        out,
        offset,
        image.sourceWidth,
        image.sourceHeight,
      );
    },
    cropResize(image: CropSource, boxes: CropBoxes, width: number, height: number): CropBatch {
      objectArg(image, 'image');
      const flat = flattenBoxes(boxes);
      const r = b.cropResize(
        image.data,
        image.width,
        image.height,
        flat,
        width,
        height,
        image.sourceWidth,
        image.sourceHeight,
      );
      return { data: r.data, valid: r.valid, count: r.valid.length, width, height };
    },
    denoiseNlm(image: ImageBuffer, options: DenoiseOptions = {}): ImageBuffer {
      objectArg(image, 'image');
      checkOptions(options);
      const data = b.denoiseNlm(
        image.data,
        image.width,
        image.height,
        options.h,
        options.patchSize,
        options.searchSize,
        NLM_EXP_LUT,
      );
      return { data, width: image.width, height: image.height };
    },
    bgrToYcbcr(image: ImageBuffer): YCbCrPlanes {
      objectArg(image, 'image');
      return b.bgrToYcbcr(image.data, image.width, image.height);
    },
    motionMask(
      prev: Uint8Array,
      cur: Uint8Array,
      width: number,
      height: number,
      options: MotionOptions = {},
    ): MotionResult {
      objectArg(options, 'options');
      const r = b.motionMask(
        prev,
        cur,
        width,
        height,
        options.threshold,
        options.openRadius,
        options.closeRadius,
      );
      return { mask: r.mask, width, height, changed: r.changed, fraction: r.fraction };
    },
  });
}
