/**
 * Malformed input to every kernel, native and TypeScript: wrong types, wrong buffer lengths, zero and huge sizes, NaN.
 * Each call throws a TypeError or RangeError, and the process is still there to run the next one.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PreprocessSpec } from '@sightline/shared';
import { type Kernels, nativeKernels, tsKernels } from './index.ts';
import { NO_NATIVE, randomFrame } from './test-helpers.ts';

const spec = PreprocessSpec.parse({ resize: 'letterbox', layout: 'NCHW', colour: 'RGB', scale: 1 / 255 });
const img = randomFrame(32, 24, 1);
const input = { width: 16, height: 16 };
const out = () => new Float32Array(3 * 16 * 16);

type Case = [label: string, call: (k: Kernels) => unknown, error: typeof TypeError | typeof RangeError];

// biome-ignore lint/suspicious/noExplicitAny: deliberately wrong arguments
const any = (v: unknown): any => v;

const CASES: Case[] = [
  // letterboxInto
  [
    'letterbox: data is a string',
    (k) => k.letterboxInto({ ...img, data: any('x') }, spec, input, out()),
    TypeError,
  ],
  [
    'letterbox: data is a Float32Array',
    (k) => k.letterboxInto({ ...img, data: any(new Float32Array(32 * 24 * 3)) }, spec, input, out()),
    TypeError,
  ],
  [
    'letterbox: data too short',
    (k) => k.letterboxInto({ ...img, data: img.data.subarray(1) }, spec, input, out()),
    RangeError,
  ],
  ['letterbox: width 0', (k) => k.letterboxInto({ ...img, width: 0 }, spec, input, out()), RangeError],
  [
    'letterbox: height NaN',
    (k) => k.letterboxInto({ ...img, height: Number.NaN }, spec, input, out()),
    RangeError,
  ],
  ['letterbox: width 2.5', (k) => k.letterboxInto({ ...img, width: 2.5 }, spec, input, out()), RangeError],
  ['letterbox: input 0x16', (k) => k.letterboxInto(img, spec, { width: 0, height: 16 }, out()), RangeError],
  [
    'letterbox: input NaN',
    (k) => k.letterboxInto(img, spec, { width: Number.NaN, height: 16 }, out()),
    RangeError,
  ],
  ['letterbox: output too short', (k) => k.letterboxInto(img, spec, input, new Float32Array(10)), RangeError],
  ['letterbox: offset past the end', (k) => k.letterboxInto(img, spec, input, out(), 1), RangeError],
  ['letterbox: offset -1', (k) => k.letterboxInto(img, spec, input, new Float32Array(4000), -1), RangeError],
  [
    'letterbox: offset NaN',
    (k) => k.letterboxInto(img, spec, input, new Float32Array(4000), Number.NaN),
    RangeError,
  ],
  [
    'letterbox: output is a Uint8Array',
    (k) => k.letterboxInto(img, spec, input, any(new Uint8Array(3000))),
    TypeError,
  ],
  [
    'letterbox: crop short side too small',
    (k) => k.letterboxInto(img, { ...spec, resize: 'crop', resizeShort: 8 }, input, out()),
    RangeError,
  ],
  // cropResize
  ['crop: data is null', (k) => k.cropResize({ ...img, data: any(null) }, [[0, 0, 5, 5]], 8, 8), TypeError],
  [
    'crop: data too short',
    (k) => k.cropResize({ ...img, data: img.data.subarray(3) }, [[0, 0, 5, 5]], 8, 8),
    RangeError,
  ],
  ['crop: NaN box', (k) => k.cropResize(img, [[0, Number.NaN, 5, 5]], 8, 8), RangeError],
  [
    'crop: Infinity box',
    (k) => k.cropResize(img, Float64Array.of(0, 0, Number.POSITIVE_INFINITY, 5), 8, 8),
    RangeError,
  ],
  ['crop: 3 numbers a box', (k) => k.cropResize(img, Float32Array.of(0, 0, 5), 8, 8), RangeError],
  ['crop: box of strings', (k) => k.cropResize(img, [any(['0', '0', '5', '5'])], 8, 8), TypeError],
  ['crop: boxes a string', (k) => k.cropResize(img, any('boxes'), 8, 8), TypeError],
  ['crop: output width 0', (k) => k.cropResize(img, [[0, 0, 5, 5]], 0, 8), RangeError],
  ['crop: output height NaN', (k) => k.cropResize(img, [[0, 0, 5, 5]], 8, Number.NaN), RangeError],
  ['crop: output 1e9 wide', (k) => k.cropResize(img, [[0, 0, 5, 5]], 1e9, 8), RangeError],
  [
    'crop: batch over 1 GiB',
    (k) =>
      k.cropResize(
        img,
        [
          [0, 0, 5, 5],
          [1, 1, 6, 6],
        ],
        16384,
        16384,
      ),
    RangeError,
  ],
  ['crop: output width a string', (k) => k.cropResize(img, [[0, 0, 5, 5]], any('8'), 8), TypeError],
  // denoiseNlm
  [
    'denoise: data too long',
    (k) => k.denoiseNlm({ ...img, data: new Uint8Array(32 * 24 * 3 + 1) }),
    RangeError,
  ],
  ['denoise: data a plain array', (k) => k.denoiseNlm({ ...img, data: any([1, 2, 3]) }), TypeError],
  ['denoise: width 0', (k) => k.denoiseNlm({ ...img, width: 0 }), RangeError],
  ['denoise: h NaN', (k) => k.denoiseNlm(img, { h: Number.NaN }), RangeError],
  ['denoise: h 0', (k) => k.denoiseNlm(img, { h: 0 }), RangeError],
  ['denoise: even patch', (k) => k.denoiseNlm(img, { patchSize: 4 }), RangeError],
  ['denoise: search 23', (k) => k.denoiseNlm(img, { searchSize: 23 }), RangeError],
  ['denoise: h a string', (k) => k.denoiseNlm(img, { h: any('10') }), TypeError],
  ['denoise: options a number', (k) => k.denoiseNlm(img, any(5)), TypeError],
  // bgrToYcbcr
  ['ycbcr: data too short', (k) => k.bgrToYcbcr({ ...img, data: img.data.subarray(0, 10) }), RangeError],
  ['ycbcr: height 0', (k) => k.bgrToYcbcr({ ...img, height: 0 }), RangeError],
  ['ycbcr: width a string', (k) => k.bgrToYcbcr({ ...img, width: any('32') }), TypeError],
  ['ycbcr: image null', (k) => k.bgrToYcbcr(any(null)), TypeError],
  // motionMask
  ['motion: prev shorter than cur', (k) => k.motionMask(img.data.subarray(3), img.data, 32, 24), RangeError],
  [
    'motion: neither BGR nor luma length',
    (k) => k.motionMask(img.data.subarray(1), img.data.subarray(1), 32, 24),
    RangeError,
  ],
  ['motion: width 0', (k) => k.motionMask(img.data, img.data, 0, 24), RangeError],
  ['motion: height NaN', (k) => k.motionMask(img.data, img.data, 32, Number.NaN), RangeError],
  [
    'motion: threshold NaN',
    (k) => k.motionMask(img.data, img.data, 32, 24, { threshold: Number.NaN }),
    RangeError,
  ],
  ['motion: threshold 300', (k) => k.motionMask(img.data, img.data, 32, 24, { threshold: 300 }), RangeError],
  ['motion: radius 1.5', (k) => k.motionMask(img.data, img.data, 32, 24, { openRadius: 1.5 }), RangeError],
  ['motion: prev a string', (k) => k.motionMask(any('x'), img.data, 32, 24), TypeError],
  [
    'motion: cur an Int8Array',
    (k) => k.motionMask(img.data, any(new Int8Array(32 * 24 * 3)), 32, 24),
    TypeError,
  ],
];

function suite(name: string, get: () => Kernels, skip: string | false): void {
  describe(`${name} kernels reject malformed input`, { skip }, () => {
    for (const [label, call, error] of CASES) {
      test(label, () => {
        const k = get();
        assert.throws(
          () => call(k),
          (err: unknown) => {
            assert.ok(err instanceof error, String(err));
            assert.ok((err as Error).message.length > 10, 'a message that says what is wrong');
            return true;
          },
        );
      });
    }
    test('and still work afterwards', () => {
      const k = get();
      const o = out();
      k.letterboxInto(img, spec, input, o);
      assert.ok(o.every(Number.isFinite));
      assert.equal(k.denoiseNlm(img).data.length, img.data.length);
    });
  });
}

suite('TypeScript', () => tsKernels, false);
suite('native', () => nativeKernels as Kernels, NO_NATIVE);

describe('native binding called directly', { skip: NO_NATIVE }, () => {
  test('missing arguments, wrong spec fields and absurd sizes throw instead of crashing', async () => {
    const { createRequire } = await import('node:module');
    const b = createRequire(import.meta.url)('@sightline/native');
    const dst = new Float32Array(3 * 16 * 16);
    assert.throws(() => b.letterboxInto(), TypeError);
    assert.throws(() => b.letterboxInto(img.data, 32, 24, 'letterbox', 16, 16, dst), TypeError);
    assert.throws(
      () => b.letterboxInto(img.data, 32, 24, { ...spec, resize: 'fit' }, 16, 16, dst),
      RangeError,
    );
    assert.throws(() => b.letterboxInto(img.data, 32, 24, { ...spec, layout: 7 }, 16, 16, dst), TypeError);
    assert.throws(
      () => b.letterboxInto(img.data, 32, 24, { ...spec, std: [1, 0, 1] }, 16, 16, dst),
      RangeError,
    );
    assert.throws(() => b.letterboxInto(img.data, 32, 24, { ...spec, mean: [0, 0] }, 16, 16, dst), TypeError);
    assert.throws(
      () => b.letterboxInto(img.data, 32, 24, { ...spec, scale: Number.NaN }, 16, 16, dst),
      RangeError,
    );
    assert.throws(() => b.letterboxInto(img.data, 1e7, 1e7, spec, 16, 16, dst), RangeError);
    assert.throws(() => b.letterboxInto(img.data, 32, 24, spec, 1e6, 1e6, dst), RangeError);
    assert.throws(() => b.cropResize(img.data, 32, 24, [0, 0, 5, 5, 1, 1, 6, 6], 16384, 16384), RangeError);
    assert.throws(() => b.denoiseNlm(img.data, 2 ** 40, 1), RangeError);
    assert.throws(() => b.motionMask(), TypeError);
    assert.throws(() => b.bgrToYcbcr(img.data.buffer, 32, 24), TypeError);
    assert.equal(b.bgrToYcbcr(img.data, 32, 24).y.length, 32 * 24);
  });
});
