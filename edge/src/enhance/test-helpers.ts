/** Helpers for the enhance tests: crops of the reference images, seeded noise and quality measures. */
import { join } from 'node:path';
import type { ImageBuffer } from '../frame.ts';
import { loadImageBgr } from '../media/image.ts';

let bus: ImageBuffer | undefined;

/** bus.jpg (810x1080) from $SIGHTLINE_MEDIA_DIR, decoded once. */
export function busImage(): ImageBuffer {
  bus ??= loadImageBgr(join(process.env.SIGHTLINE_MEDIA_DIR ?? '', 'bus.jpg'));
  return bus;
}

/** A copy of the w x h region of `img` whose top-left corner is (x0, y0). */
export function crop(img: ImageBuffer, x0: number, y0: number, w: number, h: number): ImageBuffer {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const s = ((y0 + y) * img.width + x0) * 3;
    data.set(img.data.subarray(s, s + w * 3), y * w * 3);
  }
  return { data, width: w, height: h };
}

/** Mulberry32: a small seeded PRNG returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `img` plus independent Gaussian noise of standard deviation `sigma` on every byte (seeded), clipped. */
export function addGaussianNoise(img: ImageBuffer, sigma: number, seed: number): ImageBuffer {
  const rand = prng(seed);
  const data = new Uint8Array(img.data.length);
  for (let i = 0; i < data.length; i += 2) {
    const u1 = Math.max(rand(), 1e-12);
    const u2 = rand();
    const r = Math.sqrt(-2 * Math.log(u1)) * sigma;
    data[i] = Math.min(255, Math.max(0, Math.round(img.data[i]! + r * Math.cos(2 * Math.PI * u2))));
    if (i + 1 < data.length) {
      data[i + 1] = Math.min(255, Math.max(0, Math.round(img.data[i + 1]! + r * Math.sin(2 * Math.PI * u2))));
    }
  }
  return { data, width: img.width, height: img.height };
}

/** PSNR in dB between two equal-length sample arrays on the 0..255 scale (Infinity when identical). */
export function psnr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`length ${a.length} vs ${b.length}`);
  let se = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    se += d * d;
  }
  return se === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10((255 * 255 * a.length) / se);
}

/** Mean of each channel, in B, G, R order. */
export function channelMeans(img: ImageBuffer): [number, number, number] {
  const s = [0, 0, 0];
  for (let i = 0; i < img.data.length; i += 3) {
    s[0]! += img.data[i]!;
    s[1]! += img.data[i + 1]!;
    s[2]! += img.data[i + 2]!;
  }
  const n = img.data.length / 3;
  return [s[0]! / n, s[1]! / n, s[2]! / n];
}

/** Mean and standard deviation of the BT.601 luma. */
export function lumaStats(img: ImageBuffer): { mean: number; std: number } {
  let s = 0;
  let s2 = 0;
  const n = img.data.length / 3;
  for (let i = 0; i < img.data.length; i += 3) {
    const y = 0.114 * img.data[i]! + 0.587 * img.data[i + 1]! + 0.299 * img.data[i + 2]!;
    s += y;
    s2 += y * y;
  }
  const mean = s / n;
  return { mean, std: Math.sqrt(Math.max(0, s2 / n - mean * mean)) };
}

/** Antialiased bicubic /3 downscale of a plane (PIL-style: Keys a = -0.5 stretched x3, 11 taps), rounded to 0..255. */
export function downscalePlane3(p: Float32Array, w: number, h: number): Float32Array {
  const k = (x: number) => {
    const t = Math.abs(x);
    return t <= 1 ? 1.5 * t ** 3 - 2.5 * t * t + 1 : t < 2 ? -0.5 * t ** 3 + 2.5 * t * t - 4 * t + 2 : 0;
  };
  const wts = Array.from({ length: 11 }, (_, i) => k((i - 5) / 3));
  const norm = wts.reduce((a, b) => a + b);
  const W = w / 3;
  const H = h / 3;
  const tmp = new Float32Array(W * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < W; x++) {
      let a = 0;
      for (let d = -5; d <= 5; d++)
        a += wts[d + 5]! * p[y * w + Math.min(w - 1, Math.max(0, 3 * x + 1 + d))]!;
      tmp[y * W + x] = a / norm;
    }
  }
  const out = new Float32Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let a = 0;
      for (let d = -5; d <= 5; d++)
        a += wts[d + 5]! * tmp[Math.min(h - 1, Math.max(0, 3 * y + 1 + d)) * W + x]!;
      out[y * W + x] = Math.round(Math.min(255, Math.max(0, a / norm)));
    }
  }
  return out;
}

/** A float plane rounded and clipped to 0..255, as it would be stored. */
export function quantise(p: Float32Array): Float32Array {
  return Float32Array.from(p, (v) => Math.round(Math.min(255, Math.max(0, v))));
}
