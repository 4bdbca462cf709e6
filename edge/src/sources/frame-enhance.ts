/** The enhance stage on a decoded frame, inside the decode worker: denoise, white balance, contrast, in that order. */
import type { EnhanceConfig } from '@sightline/shared';
import { autoContrast, whiteBalance } from '../enhance/colour.ts';
import type { ImageBuffer } from '../frame.ts';
import { kernels } from '../native/index.ts';

/** What a decode session enhances (the edge's `enhance` section). */
export type EnhanceSettings = Pick<EnhanceConfig, 'denoise' | 'denoiseH' | 'whiteBalance' | 'contrast'>;

/** `pixels` (packed BGR24, width x height) with the steps of `settings` applied: a new buffer when any ran. */
export function enhancePixels(
  pixels: ArrayBuffer,
  width: number,
  height: number,
  settings: EnhanceSettings,
): ArrayBuffer {
  let image: ImageBuffer = { data: new Uint8Array(pixels), width, height };
  // The native kernel when the addon is built (the same bytes, about 2x faster), else TypeScript.
  if (settings.denoise) image = kernels.denoiseNlm(image, { h: settings.denoiseH });
  if (settings.whiteBalance) image = whiteBalance(image);
  if (settings.contrast) image = autoContrast(image);
  const { data } = image;
  if (data.buffer === pixels) return pixels;
  // A buffer of its own, so the frame can be transferred without copying.
  return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength
    ? (data.buffer as ArrayBuffer)
    : data.slice().buffer;
}
