import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { denoiseNlm } from './denoise.ts';
import { addGaussianNoise, busImage, crop, psnr } from './test-helpers.ts';

describe('denoiseNlm', () => {
  // A 200x200 crop of bus.jpg (the bus side and a window: edges and texture), sigma 15 noise, seed 42.
  // Measured: noisy 24.80 dB; h 15 -> 33.12 dB; default h 10 -> 31.54 dB. Sigma 20: 22.41 -> 31.34 dB (h 20).
  const clean = crop(busImage(), 300, 300, 200, 200);

  test('sigma 15 noise on a bus.jpg crop: PSNR 24.8 -> 33.1 dB (h 15), asserted gain > 6 dB', () => {
    const noisy = addGaussianNoise(clean, 15, 42);
    const before = psnr(noisy.data, clean.data);
    const after = psnr(denoiseNlm(noisy, { h: 15 }).data, clean.data);
    assert.ok(before > 24 && before < 25.5, `noisy PSNR ${before}`);
    assert.ok(after > before + 6, `denoised ${after.toFixed(2)} dB vs noisy ${before.toFixed(2)} dB`);
  });

  test('sigma 20 noise, h 20: PSNR 22.4 -> 31.3 dB, asserted gain > 6 dB; default options still gain > 3 dB', () => {
    const noisy = addGaussianNoise(clean, 20, 42);
    const before = psnr(noisy.data, clean.data);
    const after = psnr(denoiseNlm(noisy, { h: 20 }).data, clean.data);
    assert.ok(after > before + 6, `denoised ${after.toFixed(2)} dB vs noisy ${before.toFixed(2)} dB`);
    const light = psnr(denoiseNlm(noisy).data, clean.data);
    assert.ok(light > before + 3, `default options ${light.toFixed(2)} dB vs noisy ${before.toFixed(2)} dB`);
  });

  test('a clean image is barely touched (measured 39.6 dB against itself at h 10)', () => {
    const out = denoiseNlm(clean);
    assert.ok(psnr(out.data, clean.data) > 37, `${psnr(out.data, clean.data)}`);
  });

  test('a flat image of odd size stays exactly flat, with a 5x5 patch and an 11x11 window', () => {
    const w = 37;
    const h = 23;
    const data = new Uint8Array(w * h * 3);
    for (let i = 0; i < data.length; i += 3) data.set([90, 120, 200], i);
    const out = denoiseNlm({ data, width: w, height: h }, { patchSize: 5, searchSize: 11 });
    assert.equal(out.width, w);
    assert.equal(out.height, h);
    assert.deepEqual(out.data, data);
    assert.notEqual(out.data, data, 'returns a new buffer');
  });

  test('tiny images (1x1, 2x3) come back the same size; a 1x1 image is unchanged', () => {
    const one = { data: new Uint8Array([1, 2, 3]), width: 1, height: 1 };
    assert.deepEqual(denoiseNlm(one).data, one.data);
    const small = { data: Uint8Array.from({ length: 18 }, (_, i) => i * 10), width: 2, height: 3 };
    const out = denoiseNlm(small, { searchSize: 11 });
    assert.equal(out.data.length, 18);
  });

  test('timing: one run on a 768x576 crop (reported, not asserted)', (t) => {
    const frame = crop(busImage(), 0, 0, 768, 576);
    const start = performance.now();
    denoiseNlm(frame);
    t.diagnostic(`denoiseNlm 768x576 (3x3 patch, 7x7 window): ${(performance.now() - start).toFixed(0)} ms`);
  });

  test('rejects malformed input and options', () => {
    const img = { data: new Uint8Array(12), width: 2, height: 2 };
    assert.throws(() => denoiseNlm({ data: new Uint8Array(11), width: 2, height: 2 }), RangeError);
    assert.throws(() => denoiseNlm({ data: new Uint8Array(0), width: 0, height: 0 }), RangeError);
    assert.throws(() => denoiseNlm({ data: new Uint8Array(12), width: -2, height: -2 }), RangeError);
    assert.throws(() => denoiseNlm({ data: new Uint8Array(12), width: 2.5, height: 2 }), RangeError);
    assert.throws(
      () => denoiseNlm({ data: [0, 0, 0] as unknown as Uint8Array, width: 1, height: 1 }),
      TypeError,
    );
    assert.throws(() => denoiseNlm(null as never), TypeError);
    assert.throws(() => denoiseNlm(img, { h: Number.NaN }), RangeError);
    assert.throws(() => denoiseNlm(img, { h: 0 }), RangeError);
    assert.throws(() => denoiseNlm(img, { h: '10' as never }), TypeError);
    assert.throws(() => denoiseNlm(img, { patchSize: 4 }), /odd/);
    assert.throws(() => denoiseNlm(img, { searchSize: 23 }), RangeError);
    assert.throws(() => denoiseNlm(img, 'fast' as never), TypeError);
  });
});
