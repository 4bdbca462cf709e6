/** The hot pixel kernels, as one interface with a native (N-API) and a TypeScript implementation. */
import type { Box, PreprocessSpec } from '@sightline/shared';
import type { DenoiseOptions } from '../enhance/denoise-options.ts';
import type { YCbCrPlanes } from '../enhance/super-resolution.ts';
import type { ImageBuffer } from '../frame.ts';
import type { CropSource } from '../preprocess/crop.ts';
import type { Geometry } from '../preprocess/geometry.ts';
import type { InputSize, PreprocessImage } from '../preprocess/preprocess.ts';

/** Boxes for cropResize: Box tuples, or x1, y1, x2, y2 per box in one flat array. */
export type CropBoxes = readonly Box[] | Float32Array | Float64Array;

/** `count` crops of width x height, packed BGR24 one after another; valid[i] = 0 where box i missed the frame. */
export interface CropBatch {
  data: Uint8Array;
  valid: Uint8Array;
  count: number;
  width: number;
  height: number;
}

/** Options for motionMask. */
export interface MotionOptions {
  /** A pixel changed when its luma (0..255) moved by more than this. Default 25. */
  threshold?: number;
  /** Radius of the square opening (erode, dilate) that removes specks, 0..15; 0 skips it. Default 1. */
  openRadius?: number;
  /** Radius of the square closing (dilate, erode) that fills small holes, 0..15; 0 skips it. Default 1. */
  closeRadius?: number;
}

/** A motion mask: 255 where the frame changed, 0 elsewhere. */
export interface MotionResult {
  mask: Uint8Array;
  width: number;
  height: number;
  /** Pixels set in the mask. */
  changed: number;
  /** changed / (width * height). */
  fraction: number;
}

/** The kernels; `kernels` in ./index.ts is the native set when the addon loads, the TypeScript set otherwise. */
export interface Kernels {
  /** Which implementation this is. */
  readonly kind: 'native' | 'typescript';
  /** preprocessInto (letterbox, stretch or crop resize; NCHW/NHWC; BGR/RGB/Y; scale/mean/std), same contract. */
  letterboxInto(
    image: PreprocessImage,
    spec: PreprocessSpec,
    input: InputSize,
    out: Float32Array,
    offset?: number,
  ): Geometry;
  /** cropImage for every box, each stretched to width x height with the preprocess path's bilinear resample. */
  cropResize(image: CropSource, boxes: CropBoxes, width: number, height: number): CropBatch;
  /** Fast non-local means (edge/src/enhance/denoise.ts). */
  denoiseNlm(image: ImageBuffer, options?: DenoiseOptions): ImageBuffer;
  /** BGR24 to YCbCr planes, BT.601 full range (edge/src/enhance/super-resolution.ts). */
  bgrToYcbcr(image: ImageBuffer): YCbCrPlanes;
  /** Frame-difference motion mask of two BGR24 frames (or two luma planes) of width x height. */
  motionMask(
    prev: Uint8Array,
    cur: Uint8Array,
    width: number,
    height: number,
    options?: MotionOptions,
  ): MotionResult;
}
