/** Where a frame lands in a model's input tensor, and how to map model coordinates back to source pixels. */
import type { PreprocessSpec } from '@sightline/shared';

/**
 * The affine map between source-frame pixels and model-input pixels: `model = source * scale + offset`.
 * Plain data, so it crosses worker boundaries unchanged.
 */
export interface Geometry {
  /** Model-input pixels per source pixel, horizontally and vertically. */
  scaleX: number;
  scaleY: number;
  /** Model-input position of the source origin (letterbox padding; negative for a centre crop). */
  offsetX: number;
  offsetY: number;
  /** The source frame the boxes are reported in. */
  sourceWidth: number;
  sourceHeight: number;
  /** Model input size. */
  inputWidth: number;
  inputHeight: number;
}

/** The part of the model input that holds image pixels, in model-input pixels, plus the resampling plan. */
export interface Placement extends Geometry {
  /** Size of the whole resized picture before any crop (the letterbox "inner" size for letterbox). */
  resizedWidth: number;
  resizedHeight: number;
  /** Window of the resized picture copied into the input (crop); the whole picture otherwise. */
  windowX: number;
  windowY: number;
  windowWidth: number;
  windowHeight: number;
  /** Where that window's top-left lands in the input (letterbox padding). */
  destX: number;
  destY: number;
}

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) {
    throw new RangeError(`Expected a positive integer for ${name} but received ${v} of type ${typeof v}`);
  }
}

/** Plan how a sourceWidth x sourceHeight frame fills an inputWidth x inputHeight tensor under `spec`. */
export function planPlacement(
  spec: Pick<PreprocessSpec, 'resize' | 'align' | 'resizeShort'>,
  sourceWidth: number,
  sourceHeight: number,
  inputWidth: number,
  inputHeight: number,
): Placement {
  positiveInt('sourceWidth', sourceWidth);
  positiveInt('sourceHeight', sourceHeight);
  positiveInt('inputWidth', inputWidth);
  positiveInt('inputHeight', inputHeight);
  const base = { sourceWidth, sourceHeight, inputWidth, inputHeight };
  if (spec.resize === 'stretch') {
    return {
      ...base,
      scaleX: inputWidth / sourceWidth,
      scaleY: inputHeight / sourceHeight,
      offsetX: 0,
      offsetY: 0,
      resizedWidth: inputWidth,
      resizedHeight: inputHeight,
      windowX: 0,
      windowY: 0,
      windowWidth: inputWidth,
      windowHeight: inputHeight,
      destX: 0,
      destY: 0,
    };
  }
  if (spec.resize === 'crop') {
    const short = spec.resizeShort ?? Math.max(inputWidth, inputHeight);
    const r = short / Math.min(sourceWidth, sourceHeight);
    const rw = Math.max(1, Math.round(sourceWidth * r));
    const rh = Math.max(1, Math.round(sourceHeight * r));
    if (rw < inputWidth || rh < inputHeight) {
      throw new RangeError(
        `Expected resizeShort to cover the ${inputWidth}x${inputHeight} input but received ${short} of type number`,
      );
    }
    // torchvision CenterCrop: offset = int(round((resized - crop) / 2.0)), Python's round: halves to even.
    const cx = halfToEven(rw - inputWidth);
    const cy = halfToEven(rh - inputHeight);
    return {
      ...base,
      scaleX: rw / sourceWidth,
      scaleY: rh / sourceHeight,
      offsetX: -cx,
      offsetY: -cy,
      resizedWidth: rw,
      resizedHeight: rh,
      windowX: cx,
      windowY: cy,
      windowWidth: inputWidth,
      windowHeight: inputHeight,
      destX: 0,
      destY: 0,
    };
  }
  // letterbox: keep the aspect ratio, fit inside, pad the rest.
  const r = Math.min(inputWidth / sourceWidth, inputHeight / sourceHeight);
  const iw = Math.min(inputWidth, Math.max(1, Math.round(sourceWidth * r)));
  const ih = Math.min(inputHeight, Math.max(1, Math.round(sourceHeight * r)));
  // Ultralytics puts the odd pixel of padding on the bottom/right: left = round(dw - 0.1) = floor for halves.
  const padX = spec.align === 'top-left' ? 0 : Math.floor((inputWidth - iw) / 2);
  const padY = spec.align === 'top-left' ? 0 : Math.floor((inputHeight - ih) / 2);
  return {
    ...base,
    scaleX: iw / sourceWidth,
    scaleY: ih / sourceHeight,
    offsetX: padX,
    offsetY: padY,
    resizedWidth: iw,
    resizedHeight: ih,
    windowX: 0,
    windowY: 0,
    windowWidth: iw,
    windowHeight: ih,
    destX: padX,
    destY: padY,
  };
}

/** n / 2 for a non-negative integer n, a half rounded to the even neighbour (Python's round: 58.5 -> 58). */
function halfToEven(n: number): number {
  const lo = Math.floor(n / 2);
  return n % 2 === 1 && lo % 2 === 1 ? lo + 1 : lo;
}

/** Map a model-input x coordinate to source pixels. */
export function toSourceX(g: Geometry, x: number): number {
  return (x - g.offsetX) / g.scaleX;
}

/** Map a model-input y coordinate to source pixels. */
export function toSourceY(g: Geometry, y: number): number {
  return (y - g.offsetY) / g.scaleY;
}

/** Map a source x coordinate to model-input pixels. */
export function toModelX(g: Geometry, x: number): number {
  return x * g.scaleX + g.offsetX;
}

/** Map a source y coordinate to model-input pixels. */
export function toModelY(g: Geometry, y: number): number {
  return y * g.scaleY + g.offsetY;
}
