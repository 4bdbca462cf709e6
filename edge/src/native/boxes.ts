/** Crop boxes for cropResize as one flat Float64Array (no imports of the kernels: the loader and the TS set share it). */
import type { CropBoxes } from './types.ts';

/** x1, y1, x2, y2 per box as one flat list of finite numbers; throws on anything else. */
export function flattenBoxes(boxes: CropBoxes): Float64Array {
  let flat: Float64Array;
  if (boxes instanceof Float64Array) flat = boxes;
  else if (boxes instanceof Float32Array) flat = Float64Array.from(boxes);
  else if (Array.isArray(boxes)) {
    flat = new Float64Array(boxes.length * 4);
    boxes.forEach((box, i) => {
      if (!Array.isArray(box) || box.length !== 4) {
        throw new TypeError(`Expected boxes[${i}] to be [x1, y1, x2, y2] but received ${String(box)}`);
      }
      for (let k = 0; k < 4; k++) {
        const v = box[k];
        if (typeof v !== 'number') {
          throw new TypeError(
            `Expected a number for boxes[${i}][${k}] but received ${String(v)} of type ${typeof v}`,
          );
        }
        flat[i * 4 + k] = v;
      }
    });
  } else {
    throw new TypeError(
      `Expected an array of boxes or a Float32Array/Float64Array but received ${typeof boxes}`,
    );
  }
  if (flat.length % 4 !== 0) {
    throw new RangeError(
      `Expected boxes to hold 4 numbers per box (x1, y1, x2, y2) but it holds ${flat.length}`,
    );
  }
  for (let i = 0; i < flat.length; i++) {
    if (!Number.isFinite(flat[i])) {
      throw new RangeError(`Expected finite box coordinates but boxes[${i >> 2}][${i & 3}] is ${flat[i]}`);
    }
  }
  return flat;
}
