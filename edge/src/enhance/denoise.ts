/**
 * Non-local means denoising of packed BGR24 images: the fast "integral image" NLM of Darbon et al. (2008), the
 * same algorithm family as OpenCV's fastNlMeansDenoisingColored, with patch distances measured on the luma.
 *
 * For every offset d in the search window we square the luma difference Y(q) - Y(q + d) over the image, take its
 * integral image, and read each pixel's patch distance with four lookups: O(pixels x window), independent of the
 * patch size. The weight of neighbour p + d is exp(-D / h^2), D = mean squared luma difference over the patch
 * (OpenCV's convention, so h means the same thing: about 10 for light noise, about the noise sigma for heavy noise).
 *
 * Colour: the weights come from the luma and are applied to B, G and R alike (joint filtering), rather than
 * denoising each channel on its own. One distance pass instead of three (the distances are the cost), the luma
 * holds most of the structure and its noise is lower (a weighted mean of three channels: about 0.67 sigma for
 * independent channel noise), so the weights are more reliable, and the chroma noise is averaged with the same
 * weights, which keeps colours registered to the edges. The price: an edge between two colours of equal luma is
 * smoothed like flat ground (rare in camera footage).
 *
 * Borders are reflected (OpenCV BORDER_REFLECT_101), so any size from 1x1 works. Timing (single runs, shared 2-core
 * dev VM under load): 460-660 ms per 768x576 frame with the defaults (3x3 patch, 7x7 window).
 */
import type { ImageBuffer } from '../frame.ts';
import { checkImage, checkNumber, checkOdd, checkOptions, reflectIndex } from './check.ts';
import type { DenoiseOptions } from './denoise-options.ts';
import { NLM_EXP_LUT as EXP_LUT, NLM_LUT_SIZE as LUT_SIZE, NLM_LUT_STEPS as LUT_STEPS } from './nlm-table.ts';

export type { DenoiseOptions } from './denoise-options.ts';

/** The checked image and options of a denoiseNlm call; throws TypeError/RangeError as documented. */
function checkDenoise(image: ImageBuffer, options: DenoiseOptions): [ImageBuffer, Required<DenoiseOptions>] {
  const img = checkImage(image);
  checkOptions(options);
  const h = checkNumber(options.h, 10, 'options.h', Number.MIN_VALUE, 255);
  const patchSize = checkOdd(options.patchSize, 3, 'options.patchSize', 1, 9);
  const searchSize = checkOdd(options.searchSize, 7, 'options.searchSize', 3, 21);
  if (h <= 0) throw new RangeError(`Expected options.h > 0 but received ${h}`);
  return [img, { h, patchSize, searchSize }];
}

/**
 * Fast non-local means (integral images, luma weights applied to B, G, R) in TypeScript; returns a new BGR24 image.
 * The reference of the native kernel (`kernels.denoiseNlm` of edge/src/native: the same bytes, faster).
 */
export function denoiseNlm(image: ImageBuffer, options: DenoiseOptions = {}): ImageBuffer {
  const [img, o] = checkDenoise(image, options);
  return nlm(img, o);
}

/** denoiseNlm, by the name the native kernels' fallback set uses for the TypeScript reference. */
export const denoiseNlmTs = denoiseNlm;

function nlm(img: ImageBuffer, { h, patchSize, searchSize }: Required<DenoiseOptions>): ImageBuffer {
  const { data, width: w, height: hgt } = img;
  const pr = (patchSize - 1) / 2;
  const sr = (searchSize - 1) / 2;
  const pad = sr + pr;
  const pw = w + 2 * pad;
  const ph = hgt + 2 * pad;

  // Padded planes (reflected borders): luma for the distances, B/G/R for the weighted sums.
  const yp = new Float32Array(pw * ph);
  const bp = new Float32Array(pw * ph);
  const gp = new Float32Array(pw * ph);
  const rp = new Float32Array(pw * ph);
  for (let py = 0; py < ph; py++) {
    const sy = reflectIndex(py - pad, hgt);
    for (let px = 0; px < pw; px++) {
      const s = (sy * w + reflectIndex(px - pad, w)) * 3;
      const i = py * pw + px;
      const b = data[s]!;
      const g = data[s + 1]!;
      const r = data[s + 2]!;
      bp[i] = b;
      gp[i] = g;
      rp[i] = r;
      yp[i] = 0.114 * b + 0.587 * g + 0.299 * r;
    }
  }

  // Accumulators, seeded with the pixel itself at weight 1 (offset 0 has distance 0).
  const n = w * hgt;
  const accB = new Float64Array(n);
  const accG = new Float64Array(n);
  const accR = new Float64Array(n);
  const wsum = new Float64Array(n).fill(1);
  for (let y = 0; y < hgt; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y + pad) * pw + x + pad;
      const o = y * w + x;
      accB[o] = bp[i]!;
      accG[o] = gp[i]!;
      accR[o] = rp[i]!;
    }
  }

  // Integral image over the image grown by the patch radius; float64 keeps the sums exact enough (< 2^53).
  const rw = w + 2 * pr;
  const rh = hgt + 2 * pr;
  const stride = rw + 1;
  const integral = new Float64Array(stride * (rh + 1));
  // exp(-D / h^2) from a table at 1/256 steps of D / h^2, zero past 12 (e^-12 < 1e-5): Math.exp was half the time.
  const k = LUT_STEPS / (patchSize * patchSize * h * h);
  const off = pad - pr; // padded coordinate of the region's origin
  const ps = patchSize;

  for (let dy = -sr; dy <= sr; dy++) {
    for (let dx = -sr; dx <= sr; dx++) {
      if (dx === 0 && dy === 0) continue;
      const shift = dy * pw + dx;
      for (let ry = 0; ry < rh; ry++) {
        let row = 0;
        const base = (ry + off) * pw + off;
        const above = ry * stride;
        const here = above + stride;
        for (let rx = 0; rx < rw; rx++) {
          const a = base + rx;
          const diff = yp[a]! - yp[a + shift]!;
          row += diff * diff;
          integral[here + rx + 1] = integral[above + rx + 1]! + row;
        }
      }
      for (let y = 0; y < hgt; y++) {
        const top = y * stride;
        const bottom = (y + ps) * stride;
        const nb = (y + pad + dy) * pw + pad + dx;
        const o0 = y * w;
        for (let x = 0; x < w; x++) {
          const dist =
            integral[bottom + x + ps]! - integral[top + x + ps]! - integral[bottom + x]! + integral[top + x]!;
          // Compared before truncating: (dist * k) | 0 wraps past 2^31 (h below about 0.09) and indexed nothing.
          const t = dist * k;
          const wt = t < LUT_SIZE ? EXP_LUT[t > 0 ? t | 0 : 0]! : 0;
          const o = o0 + x;
          const q = nb + x;
          accB[o] = accB[o]! + wt * bp[q]!;
          accG[o] = accG[o]! + wt * gp[q]!;
          accR[o] = accR[o]! + wt * rp[q]!;
          wsum[o] = wsum[o]! + wt;
        }
      }
    }
  }

  const out = new Uint8Array(n * 3);
  for (let o = 0, j = 0; o < n; o++, j += 3) {
    const inv = 1 / wsum[o]!;
    out[j] = Math.min(255, Math.max(0, Math.round(accB[o]! * inv)));
    out[j + 1] = Math.min(255, Math.max(0, Math.round(accG[o]! * inv)));
    out[j + 2] = Math.min(255, Math.max(0, Math.round(accR[o]! * inv)));
  }
  return { data: out, width: w, height: hgt };
}
