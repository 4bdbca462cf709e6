/** Helpers for the native kernel tests: reference images, seeded random frames, exact comparisons. */
import { join } from 'node:path';
import { prng } from '../enhance/test-helpers.ts';
import type { ImageBuffer } from '../frame.ts';
import { loadImageBgr } from '../media/image.ts';
import { nativeKernels } from './index.ts';

export { prng };

/** Skip reason for the native comparisons when the addon is not built (or SIGHTLINE_NATIVE=0). */
export const NO_NATIVE: string | false = nativeKernels
  ? false
  : 'the native addon is not built or is disabled (npm run build -w @sightline/native; SIGHTLINE_NATIVE unset)';

const cache = new Map<string, ImageBuffer>();

/** bus.jpg / dog.jpg from $SIGHTLINE_MEDIA_DIR, decoded once. */
export function mediaImage(name: 'bus.jpg' | 'dog.jpg'): ImageBuffer {
  let img = cache.get(name);
  if (!img) {
    img = loadImageBgr(join(process.env.SIGHTLINE_MEDIA_DIR ?? '', name));
    cache.set(name, img);
  }
  return img;
}

/** A seeded frame: smooth gradients with noise and a few hard edges, so every code path sees real variation. */
export function randomFrame(width: number, height: number, seed: number): ImageBuffer {
  const rand = prng(seed);
  const data = new Uint8Array(width * height * 3);
  const edge = Math.floor(rand() * width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const base = x >= edge ? 160 : 40;
      data[i] = (base + (x * 97) / width + rand() * 40) & 255;
      data[i + 1] = (base + (y * 131) / height + rand() * 40) & 255;
      data[i + 2] = Math.floor(rand() * 256);
    }
  }
  return { data, width, height };
}

/** Count of elements that differ and the largest absolute difference (NaN-aware: NaN equals NaN). */
export function compare(a: ArrayLike<number>, b: ArrayLike<number>): { differ: number; maxDiff: number } {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let differ = 0;
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y))) continue;
    differ++;
    maxDiff = Math.max(maxDiff, Math.abs(x - y));
  }
  return { differ, maxDiff };
}
