/**
 * What the InferencePool checks and hands over before a request reaches a worker: which calls a model answers
 * (by its task and adapter), packed-image validation, and the buffers a message transfers.
 */
import type { ModelEntry } from '@sightline/shared';
import { SEGMENTATION_ADAPTERS } from '../adapters/segmentation.ts';
import type { ImageBuffer } from '../frame.ts';
import type { ImagePixels } from './protocol.ts';

/** The backend call a model answers: infer() (detection, instance segmentation), embed(), classify(), segment(). */
export type PoolMethod = 'infer' | 'embed' | 'classify' | 'segment';

/**
 * The call `entry` answers. By task, except that task "segmentation" covers both semantic segmentation (a class per
 * pixel: adapter "deeplab", segment()) and instance segmentation (boxes with masks: adapter "yolov8-seg", infer()).
 */
export function poolMethod(entry: Pick<ModelEntry, 'task' | 'adapter'>): PoolMethod {
  switch (entry.task) {
    case 'reid':
      return 'embed';
    case 'classification':
      return 'classify';
    case 'segmentation':
      return SEGMENTATION_ADAPTERS.includes(entry.adapter) ? 'segment' : 'infer';
    default:
      return 'infer';
  }
}

const WHAT: Record<PoolMethod, string> = {
  infer: 'detection',
  embed: 're-ID',
  classify: 'classification',
  segment: 'semantic-segmentation',
};

/** A TypeError when `entry` does not answer `method` (naming the model, its task and the call it does answer). */
export function wrongMethod(
  entry: Pick<ModelEntry, 'id' | 'task' | 'adapter'>,
  method: PoolMethod,
): TypeError | undefined {
  const right = poolMethod(entry);
  if (right === method) return undefined;
  return new TypeError(
    `Model ${entry.id} is not a ${WHAT[method]} model (task ${entry.task}, adapter ${entry.adapter}); use ${right}()`,
  );
}

/**
 * A view whose buffer can be transferred: whole, unshared buffers as they are (listed once in `transfer`),
 * views into larger or shared buffers (e.g. Node's Buffer pool) copied first.
 */
export function transferable(data: Uint8Array, transfer: ArrayBuffer[]): Uint8Array {
  const buf = data.buffer;
  if (buf instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === buf.byteLength) {
    if (!transfer.includes(buf)) transfer.push(buf);
    return data;
  }
  // A copy that owns its memory: a Buffer's slice() is a view on the same (often shared) memory, which transferring
  // would take away from everything else that uses it.
  const copy = new Uint8Array(data);
  transfer.push(copy.buffer as ArrayBuffer);
  return copy;
}

function positiveInteger(v: unknown): boolean {
  return Number.isInteger(v) && (v as number) > 0;
}

/**
 * Check `images` (at least one packed BGR24 image, each exactly width x height x 3 bytes; a source size when given
 * is positive) and return them with transferable buffers, listed in `transfer`. Throws TypeError or RangeError
 * naming `method` and the image; nothing is transferred until the message is posted, so a throw leaves them usable.
 */
export function packedImages(
  images: readonly (ImageBuffer & { sourceWidth?: number; sourceHeight?: number })[],
  method: PoolMethod,
  transfer: ArrayBuffer[],
): ImagePixels[] {
  if (!Array.isArray(images) || images.length < 1) {
    throw new RangeError(
      `Expected at least 1 image for ${method}() but received ${Array.isArray(images) ? 0 : typeof images}`,
    );
  }
  images.forEach((image, i) => {
    if (!(image?.data instanceof Uint8Array)) {
      throw new TypeError(
        `Expected a Uint8Array for image ${i}'s data in ${method}() but received ${typeof image?.data}`,
      );
    }
    for (const k of ['width', 'height'] as const) {
      if (!positiveInteger(image[k])) {
        throw new RangeError(
          `Expected a positive integer for image ${i}'s ${k} in ${method}() but received ${image[k]}`,
        );
      }
    }
    const need = image.width * image.height * 3;
    if (image.data.length !== need) {
      throw new RangeError(
        `Expected ${need} bytes of packed BGR24 for image ${i} (${image.width}x${image.height}) in ${method}() ` +
          `but received ${image.data.length}`,
      );
    }
    for (const k of ['sourceWidth', 'sourceHeight'] as const) {
      const v = image[k];
      if (v !== undefined && !(Number.isFinite(v) && v > 0)) {
        throw new RangeError(`Expected a positive ${k} for image ${i} in ${method}() but received ${v}`);
      }
    }
  });
  return images.map((image) => {
    const out: ImagePixels = {
      data: transferable(image.data, transfer),
      width: image.width,
      height: image.height,
    };
    if (image.sourceWidth !== undefined) out.sourceWidth = image.sourceWidth;
    if (image.sourceHeight !== undefined) out.sourceHeight = image.sourceHeight;
    return out;
  });
}
