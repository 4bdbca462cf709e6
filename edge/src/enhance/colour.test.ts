import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ImageBuffer } from '../frame.ts';
import { autoContrast, gammaCorrect, whiteBalance, whiteBalanceGains } from './colour.ts';
import { busImage, channelMeans, crop, lumaStats } from './test-helpers.ts';

/** Apply f to every byte of every channel c, clipped. */
function mapChannels(img: ImageBuffer, f: (v: number, c: number) => number): ImageBuffer {
  const data = Uint8Array.from(img.data, (v, i) => Math.min(255, Math.max(0, Math.round(f(v, i % 3)))));
  return { data, width: img.width, height: img.height };
}
const spread = (m: number[]) => Math.max(...m) - Math.min(...m);

describe('whiteBalance', () => {
  const bus = busImage();
  const cast = mapChannels(bus, (v, c) => v * [1.3, 1.0, 0.7][c]!);

  for (const method of ['gray-world', 'trimmed-gray-world'] as const) {
    test(`${method}: a B x1.3 / R x0.7 cast of bus.jpg gets its channel means together`, (t) => {
      const before = channelMeans(cast);
      const out = whiteBalance(cast, { method });
      const after = channelMeans(out);
      t.diagnostic(`means before ${before.map((m) => m.toFixed(1))} after ${after.map((m) => m.toFixed(1))}`);
      // Measured: means 150.3/115.6/82.1 (spread 68.2) before; 116.0 x3 (spread < 0.1) after gray-world,
      // 114.3/117.1/117.8 (spread 3.5) after trimmed gray-world (its means are over the mid-luma, unclipped pixels).
      assert.ok(spread(before) > 40, `spread before ${spread(before)}`);
      assert.ok(
        spread(after) < spread(before) / 4,
        `spread after ${spread(after)} vs before ${spread(before)}`,
      );
      assert.equal(out.data.length, cast.data.length);
      assert.notEqual(out.data, cast.data);
    });
  }

  test('the gains undo most of the cast (B gain < 1 < R gain) and a neutral grey image gets gains of 1', () => {
    const [gb, gg, gr] = whiteBalanceGains(cast, { method: 'gray-world' });
    assert.ok(gb < 0.95 && gr > 1.15 && gb < gg && gg < gr, `${gb} ${gg} ${gr}`);
    const grey = { data: new Uint8Array(5 * 7 * 3).fill(77), width: 5, height: 7 };
    assert.deepEqual(whiteBalanceGains(grey), [1, 1, 1]);
    assert.deepEqual(whiteBalance(grey).data, grey.data);
  });

  test('inPlace writes into the given buffer', () => {
    const img = crop(cast, 0, 0, 31, 17);
    const data = img.data;
    const copy = whiteBalance(img);
    const out = whiteBalance(img, { inPlace: true });
    assert.equal(out.data, data);
    assert.deepEqual(out.data, copy.data);
  });

  test('timing: one run on a 768x576 crop (reported, not asserted)', (t) => {
    const frame = crop(cast, 0, 0, 768, 576);
    const start = performance.now();
    whiteBalance(frame);
    t.diagnostic(`whiteBalance 768x576 (trimmed gray-world): ${(performance.now() - start).toFixed(1)} ms`);
  });

  test('rejects malformed input and options', () => {
    const img = { data: new Uint8Array(12), width: 2, height: 2 };
    assert.throws(() => whiteBalance({ data: new Uint8Array(13), width: 2, height: 2 }), RangeError);
    assert.throws(() => whiteBalance({ data: new Uint8Array(0), width: 0, height: 1 }), RangeError);
    assert.throws(() => whiteBalance(img, { method: 'max-rgb' as never }), RangeError);
    assert.throws(() => whiteBalance(img, { trimPercent: Number.NaN }), RangeError);
    assert.throws(() => whiteBalance(img, { maxGain: 0.5 }), RangeError);
    assert.throws(() => whiteBalance(img, { inPlace: 'yes' as never }), TypeError);
  });
});

describe('autoContrast / gammaCorrect', () => {
  const region = crop(busImage(), 100, 200, 400, 400);

  test('a dark image (x0.25) has its mean luma moved to near mid-grey', (t) => {
    const dark = mapChannels(region, (v) => v * 0.25);
    const before = lumaStats(dark).mean;
    const after = lumaStats(autoContrast(dark)).mean;
    t.diagnostic(`mean luma ${before.toFixed(1)} -> ${after.toFixed(1)}`);
    // Measured: 24.9 -> 120.8.
    assert.ok(before < 40, `${before}`);
    assert.ok(Math.abs(after - 128) < Math.abs(before - 128) / 3, `mean luma ${before} -> ${after}`);
  });

  test('a low-contrast image (grey + 0.3 x detail) has its luma spread more than doubled', (t) => {
    const flat = mapChannels(region, (v) => 128 + (v - 128) * 0.3);
    const before = lumaStats(flat).std;
    const after = lumaStats(autoContrast(flat, { gamma: 1 })).std;
    t.diagnostic(`luma std ${before.toFixed(1)} -> ${after.toFixed(1)}`);
    // Measured: 21.5 -> 75.0.
    assert.ok(after > 2 * before, `luma std ${before} -> ${after}`);
  });

  test('a flat image is not blown up (stretch capped) and fixed gamma brightens with gamma < 1', () => {
    const grey = { data: new Uint8Array(9 * 4 * 3).fill(100), width: 9, height: 4 };
    const out = autoContrast(grey, { gamma: 1 });
    assert.ok(out.data.every((v) => v === out.data[0]) && Math.abs(out.data[0]! - 128) < 2, `${out.data[0]}`);
    const bright = gammaCorrect(grey, 0.5);
    assert.equal(bright.data[0], Math.round(255 * Math.sqrt(100 / 255)));
    assert.deepEqual(gammaCorrect(grey, 1).data, grey.data);
  });

  test('rejects malformed input and options', () => {
    const img = { data: new Uint8Array(12), width: 2, height: 2 };
    assert.throws(() => autoContrast({ data: new Uint8Array(12), width: 4, height: 2 }), RangeError);
    assert.throws(() => autoContrast(img, { gamma: Number.NaN }), RangeError);
    assert.throws(() => autoContrast(img, { lowPercent: 60 }), RangeError);
    assert.throws(() => autoContrast(img, { targetMean: 2 }), RangeError);
    assert.throws(() => gammaCorrect(img, Number.NaN), RangeError);
    assert.throws(() => gammaCorrect(img, 0), RangeError);
    assert.throws(() => gammaCorrect(img, undefined as never), TypeError);
    assert.throws(() => gammaCorrect({ data: new Uint8Array(3), width: 0, height: 1 }, 1), RangeError);
  });
});
