import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import ort from 'onnxruntime-node';
import { loadModel } from '../models/load.ts';
import {
  bgrToYcbcr,
  SR_TILE,
  SR_TILE_OUT,
  superResolveLumaX3,
  superResolveX3,
  upscaleBicubicX3,
  upscalePlaneBicubicX3,
  ycbcrToBgr,
} from './super-resolution.ts';
import { busImage, crop, downscalePlane3, psnr, quantise } from './test-helpers.ts';

describe('super-resolution x3', () => {
  let session: ort.InferenceSession;
  before(async () => {
    const model = await loadModel('super_resolution', { verify: false });
    session = await ort.InferenceSession.create(model.path, { intraOpNumThreads: 1 });
  });
  after(() => session?.release());

  test('Y of a x3-downscaled 672x672 bus.jpg region: SR within 3 dB of bicubic (measured 21.88 vs 21.63 dB)', async (t) => {
    const truth = bgrToYcbcr(crop(busImage(), 50, 200, 672, 672)).y;
    const small = downscalePlane3(truth, 672, 672);
    const sr = await superResolveLumaX3(small, 224, 224, session);
    assert.equal(sr.length, 672 * 672);
    const pSr = psnr(quantise(sr), truth);
    const pBicubic = psnr(quantise(upscalePlaneBicubicX3(small, 224, 224)), truth);
    t.diagnostic(`PSNR SR ${pSr.toFixed(2)} dB, bicubic ${pBicubic.toFixed(2)} dB`);
    assert.ok(pBicubic > 20, `bicubic ${pBicubic}`);
    assert.ok(Math.abs(pSr - pBicubic) < 3, `SR ${pSr} vs bicubic ${pBicubic}`);
    // The check can fail: the same output misregistered by one input pixel (3 output pixels) loses > 2 dB.
    const shifted = quantise(sr).copyWithin(0, 3);
    t.diagnostic(`PSNR of SR shifted 3 px ${psnr(shifted, truth).toFixed(2)} dB`);
    assert.ok(psnr(shifted, truth) < pSr - 2, `shifted ${psnr(shifted, truth)}`);
  });

  test('a 224x224 input is exactly one model run (tiled == untiled)', async () => {
    const y = bgrToYcbcr(crop(busImage(), 300, 300, 224, 224)).y;
    const tiled = await superResolveLumaX3(y, 224, 224, session);
    const input = Float32Array.from(y, (v) => v / 255);
    const direct = await session.run({ input: new ort.Tensor('float32', input, [1, 1, 224, 224]) });
    const ref = direct.output!.data as Float32Array;
    assert.deepEqual(
      tiled,
      Float32Array.from(ref, (v) => v * 255),
    );
  });

  test('300x250 gives 900x750 and the tile seams match an untiled run across them', async () => {
    const img = crop(busImage(), 200, 300, 300, 250);
    const { y } = bgrToYcbcr(img);
    const tiled = await superResolveLumaX3(y, 300, 250, session, { batchSize: 3 });
    assert.equal(tiled.length, 900 * 750);
    // Untiled reference: one model run on the 224x224 window at (40, 13), which straddles the tile seams at x = 208
    // and y = 208 (cores 208 wide with overlap 8). Away from the window's own edges (8 px) it must match exactly.
    const x0 = 40;
    const y0 = 13;
    const win = new Float32Array(SR_TILE * SR_TILE);
    for (let r = 0; r < SR_TILE; r++) {
      for (let c = 0; c < SR_TILE; c++) win[r * SR_TILE + c] = y[(y0 + r) * 300 + x0 + c]! / 255;
    }
    const ref = (await session.run({ input: new ort.Tensor('float32', win, [1, 1, 224, 224]) })).output!
      .data as Float32Array;
    let worst = 0;
    for (let r = 24; r < SR_TILE_OUT - 24; r++) {
      for (let c = 24; c < SR_TILE_OUT - 24; c++) {
        const a = tiled[(3 * y0 + r) * 900 + 3 * x0 + c]!;
        worst = Math.max(worst, Math.abs(a - ref[r * SR_TILE_OUT + c]! * 255));
      }
    }
    assert.ok(worst < 0.01, `largest difference across the seams ${worst} (0..255 scale)`);
    const bgr = await superResolveX3(img, session);
    assert.equal(bgr.width, 900);
    assert.equal(bgr.height, 750);
    assert.equal(bgr.data.length, 900 * 750 * 3);
  });

  test('colour: SR of a BGR crop stays close to bicubic BGR (Cb/Cr are bicubic); runner functions work', async () => {
    const img = crop(busImage(), 100, 400, 90, 70);
    const calls: number[] = [];
    const runner = async (tiles: Float32Array, count: number) => {
      calls.push(count);
      const res = await session.run({ input: new ort.Tensor('float32', tiles, [count, 1, 224, 224]) });
      return res.output!.data as Float32Array;
    };
    const sr = await superResolveX3(img, runner);
    const bi = upscaleBicubicX3(img);
    assert.deepEqual(calls, [1]);
    assert.equal(sr.width, 270);
    assert.ok(psnr(sr.data, bi.data) > 25, `SR vs bicubic ${psnr(sr.data, bi.data)}`);
  });

  test('bicubic x3 keeps flat planes flat and YCbCr round-trips', () => {
    const flat = new Float32Array(5 * 4).fill(42);
    assert.ok(upscalePlaneBicubicX3(flat, 5, 4).every((v) => Math.abs(v - 42) < 1e-4));
    const img = crop(busImage(), 0, 0, 33, 21);
    assert.ok(psnr(ycbcrToBgr(bgrToYcbcr(img)).data, img.data) > 45);
  });

  test('rejects malformed input and options', async () => {
    const y = new Float32Array(6);
    await assert.rejects(superResolveLumaX3(new Float32Array(5), 2, 3, session), RangeError);
    await assert.rejects(superResolveLumaX3(y, 0, 6, session), RangeError);
    await assert.rejects(superResolveLumaX3(y, 2, 3, session, { batchSize: Number.NaN }), RangeError);
    await assert.rejects(superResolveLumaX3(y, 2, 3, session, { overlap: 200 }), RangeError);
    await assert.rejects(superResolveLumaX3(y, 2, 3, {} as never), TypeError);
    await assert.rejects(
      superResolveLumaX3(y, 2, 3, async () => new Float32Array(3)),
      RangeError,
    );
    await assert.rejects(
      superResolveX3({ data: new Uint8Array(5), width: 2, height: 1 }, session),
      RangeError,
    );
    assert.throws(() => upscaleBicubicX3({ data: new Uint8Array(0), width: 0, height: 0 }), RangeError);
    assert.throws(() => upscalePlaneBicubicX3(new Uint8Array(4) as never, 2, 2), TypeError);
  });
});
