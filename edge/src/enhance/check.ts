/** Argument checks and small helpers shared by the enhancement kernels (packed BGR24, stride = width * 3). */
import type { ImageBuffer } from '../frame.ts';

/** Throw a TypeError/RangeError unless `value` is an integer >= 1 (a width or height). */
export function checkDimension(value: unknown, name: string): number {
  if (typeof value !== 'number') {
    throw new TypeError(
      `Expected a number for ${name} but received ${String(value)} of type ${typeof value}`,
    );
  }
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`Expected a positive integer for ${name} but received ${value}`);
  }
  return value;
}

/** Throw unless `img` is a packed BGR24 ImageBuffer whose data holds exactly width * height * 3 bytes. */
export function checkImage(img: unknown, name = 'image'): ImageBuffer {
  if (typeof img !== 'object' || img === null) {
    throw new TypeError(`Expected an ImageBuffer for ${name} but received ${String(img)}`);
  }
  const { data, width, height } = img as Partial<ImageBuffer>;
  checkDimension(width, `${name}.width`);
  checkDimension(height, `${name}.height`);
  if (!(data instanceof Uint8Array)) {
    throw new TypeError(`Expected a Uint8Array for ${name}.data but received ${typeof data}`);
  }
  const want = width! * height! * 3;
  if (data.length !== want) {
    throw new RangeError(
      `Expected ${name}.data to hold ${width}x${height}x3 = ${want} bytes (packed BGR24) but it holds ${data.length}`,
    );
  }
  return img as ImageBuffer;
}

/** Throw unless `plane` is a Float32Array of exactly width * height samples. */
export function checkPlane(plane: unknown, width: unknown, height: unknown, name = 'plane'): void {
  checkDimension(width, `${name} width`);
  checkDimension(height, `${name} height`);
  if (!(plane instanceof Float32Array)) {
    throw new TypeError(`Expected a Float32Array for ${name} but received ${typeof plane}`);
  }
  const want = (width as number) * (height as number);
  if (plane.length !== want) {
    throw new RangeError(
      `Expected ${name} to hold ${width}x${height} = ${want} samples but it holds ${plane.length}`,
    );
  }
}

/** Return `value` (or `fallback` when undefined) after checking it is a finite number in [min, max]. */
export function checkNumber(
  value: unknown,
  fallback: number,
  name: string,
  min: number,
  max: number,
  integer = false,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') {
    throw new TypeError(
      `Expected a number for ${name} but received ${String(value)} of type ${typeof value}`,
    );
  }
  if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new RangeError(
      `Expected ${integer ? 'an integer' : 'a finite number'} in [${min}, ${max}] for ${name} but received ${value}`,
    );
  }
  return value;
}

/** Return `value` (or `fallback`) after checking it is an odd integer in [min, max]. */
export function checkOdd(value: unknown, fallback: number, name: string, min: number, max: number): number {
  const v = checkNumber(value, fallback, name, min, max, true);
  if (v % 2 !== 1) throw new RangeError(`Expected an odd integer for ${name} but received ${v}`);
  return v;
}

/** Throw unless `options` is undefined or a plain object. */
export function checkOptions(options: unknown, name = 'options'): void {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new TypeError(`Expected an object or undefined for ${name} but received ${String(options)}`);
  }
}

/** Reflect an index into [0, n) without repeating the edge sample (OpenCV BORDER_REFLECT_101); any n >= 1. */
export function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - m;
}

/** BT.601 luma (0..255 floats) of a packed BGR24 image. */
export function lumaOf(img: ImageBuffer): Float32Array {
  const { data, width, height } = img;
  const y = new Float32Array(width * height);
  for (let i = 0, j = 0; i < y.length; i++, j += 3) {
    y[i] = 0.114 * data[j]! + 0.587 * data[j + 1]! + 0.299 * data[j + 2]!;
  }
  return y;
}
