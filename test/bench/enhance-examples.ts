/**
 * Writes the before/after images of docs/stages.md ("Enhancement") into docs/images/ and prints the measured
 * figures: a noisy crop of bus.jpg and its denoised version (PSNR against the clean crop), a colour-cast crop and
 * its white-balanced version (channel means), and a x3-downsampled crop super-resolved by the model and by plain
 * bicubic (PSNR of the luma against the original).
 *   npm run docs:enhance-images
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  autoContrast,
  bgrToYcbcr,
  denoiseNlm,
  type ImageBuffer,
  loadImageBgr,
  openSuperResolution,
  superResolveX3,
  upscaleBicubicX3,
  whiteBalance,
} from '@sightline/edge';
import sharp from 'sharp';

const media = process.env.SIGHTLINE_MEDIA_DIR ?? resolve(import.meta.dirname, '../../../shared/media');
const out = resolve(import.meta.dirname, '../../docs/images');
mkdirSync(out, { recursive: true });

function crop(img: ImageBuffer, x: number, y: number, w: number, h: number): ImageBuffer {
  const data = new Uint8Array(w * h * 3);
  for (let r = 0; r < h; r++)
    data.set(img.data.subarray(((y + r) * img.width + x) * 3, ((y + r) * img.width + x + w) * 3), r * w * 3);
  return { data, width: w, height: h };
}

async function save(img: ImageBuffer, name: string): Promise<void> {
  const rgb = Buffer.alloc(img.data.length);
  for (let i = 0; i < img.data.length; i += 3) {
    rgb[i] = img.data[i + 2]!;
    rgb[i + 1] = img.data[i + 1]!;
    rgb[i + 2] = img.data[i]!;
  }
  await sharp(rgb, { raw: { width: img.width, height: img.height, channels: 3 } })
    .jpeg({ quality: 85 })
    .toFile(join(out, name));
}

function psnr(a: Uint8Array | Float32Array, b: Uint8Array | Float32Array): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i]! - b[i]!) ** 2;
  return 10 * Math.log10((255 * 255) / (se / a.length));
}

/** Seeded Gaussian noise (Box-Muller over a small LCG). */
function noisy(img: ImageBuffer, sigma: number, seed = 42): ImageBuffer {
  let x = seed >>> 0;
  const rand = () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return (x + 0.5) / 4294967296;
  };
  const data = new Uint8Array(img.data.length);
  for (let i = 0; i < data.length; i++) {
    const g = Math.sqrt(-2 * Math.log(rand())) * Math.cos(2 * Math.PI * rand());
    data[i] = Math.max(0, Math.min(255, Math.round(img.data[i]! + sigma * g)));
  }
  return { ...img, data };
}

const means = (img: ImageBuffer) => {
  const s = [0, 0, 0];
  for (let i = 0; i < img.data.length; i++) s[i % 3]! += img.data[i]!;
  return s.map((v) => (v / (img.width * img.height)).toFixed(1)).join(' / ');
};

const bus = loadImageBgr(join(media, 'bus.jpg'));
const clean = crop(bus, 100, 400, 300, 300);
const noise = noisy(clean, 15);
const denoised = denoiseNlm(noise, { h: 15 });
await save(noise, 'enhance-noisy.jpg');
await save(denoised, 'enhance-denoised.jpg');
console.log(
  `denoise (sigma 15, h 15): PSNR ${psnr(noise.data, clean.data).toFixed(2)} dB -> ${psnr(denoised.data, clean.data).toFixed(2)} dB`,
);

const cast = {
  ...clean,
  data: clean.data.map((v, i) => Math.min(255, Math.round(v * [1.3, 1.0, 0.7][i % 3]!))),
};
const balanced = autoContrast(whiteBalance(cast));
await save(cast, 'enhance-cast.jpg');
await save(balanced, 'enhance-balanced.jpg');
console.log(`white balance + contrast: channel means B/G/R ${means(cast)} -> ${means(balanced)}`);

const region = crop(bus, 69, 300, 672, 672);
const small = { data: new Uint8Array(224 * 224 * 3), width: 224, height: 224 };
const resized = await sharp(Buffer.from(region.data), { raw: { width: 672, height: 672, channels: 3 } })
  .resize(224, 224, { kernel: 'cubic' })
  .raw()
  .toBuffer();
small.data.set(resized);
const session = await openSuperResolution();
const sr = await superResolveX3(small, session);
await session.release();
const bicubic = upscaleBicubicX3(small);
await save(small, 'enhance-sr-input.jpg');
await save(sr, 'enhance-sr-model.jpg');
await save(bicubic, 'enhance-sr-bicubic.jpg');
const y = bgrToYcbcr(region).y;
console.log(
  `x3 super-resolution of a 224 px crop: luma PSNR model ${psnr(bgrToYcbcr(sr).y, y).toFixed(2)} dB, bicubic ${psnr(bgrToYcbcr(bicubic).y, y).toFixed(2)} dB`,
);
console.log(`images in ${out}`);
