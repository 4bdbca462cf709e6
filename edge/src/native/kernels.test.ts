/**
 * The native kernels equal the TypeScript ones (edge/src/preprocess, edge/src/enhance, ./motion.ts) on the reference
 * images and on seeded frames of random sizes. Skipped with a message when the addon is not built.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Box, PreprocessSpec } from '@sightline/shared';
import { crop } from '../enhance/test-helpers.ts';
import type { ImageBuffer } from '../frame.ts';
import { type Kernels, nativeKernels, tsKernels } from './index.ts';
import { compare, mediaImage, NO_NATIVE, prng, randomFrame } from './test-helpers.ts';

const native = nativeKernels as Kernels;
const ts = tsKernels;

const SPECS: Record<string, PreprocessSpec> = {
  'yolox letterbox top-left NCHW BGR': PreprocessSpec.parse({
    resize: 'letterbox',
    align: 'top-left',
    layout: 'NCHW',
    colour: 'BGR',
  }),
  'yolov8 letterbox centre NCHW RGB /255': PreprocessSpec.parse({
    resize: 'letterbox',
    layout: 'NCHW',
    colour: 'RGB',
    scale: 1 / 255,
  }),
  'letterbox centre NHWC RGB pad 0': PreprocessSpec.parse({
    resize: 'letterbox',
    layout: 'NHWC',
    colour: 'RGB',
    padValue: 0,
  }),
  'stretch NCHW RGB imagenet': PreprocessSpec.parse({
    resize: 'stretch',
    layout: 'NCHW',
    colour: 'RGB',
    scale: 1 / 255,
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
  }),
  'stretch NHWC BGR mean/std': PreprocessSpec.parse({
    resize: 'stretch',
    layout: 'NHWC',
    colour: 'BGR',
    mean: [103.53, 116.28, 123.675],
    std: [57.375, 57.12, 58.395],
  }),
  'crop resizeShort 256 NCHW RGB imagenet': PreprocessSpec.parse({
    resize: 'crop',
    resizeShort: 256,
    layout: 'NCHW',
    colour: 'RGB',
    scale: 1 / 255,
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
  }),
  'crop default NHWC BGR': PreprocessSpec.parse({ resize: 'crop', layout: 'NHWC', colour: 'BGR' }),
  'letterbox Y /255': PreprocessSpec.parse({
    resize: 'letterbox',
    layout: 'NCHW',
    colour: 'Y',
    scale: 1 / 255,
  }),
};

const INPUTS = [
  { width: 416, height: 416 },
  { width: 640, height: 384 },
  { width: 224, height: 224 },
  { width: 128, height: 256 },
];

/** Both implementations into outputs pre-filled alike (offset 5, so the untouched head and tail count too). */
function bothLetterbox(
  img: ImageBuffer & { sourceWidth?: number; sourceHeight?: number },
  spec0: PreprocessSpec,
  input: { width: number; height: number },
) {
  // A centre crop needs a short side that covers the input.
  const side = Math.max(input.width, input.height);
  const spec =
    spec0.resize === 'crop' && spec0.resizeShort !== undefined && spec0.resizeShort < side
      ? { ...spec0, resizeShort: side + 32 }
      : spec0;
  const size = (spec.colour === 'Y' ? 1 : 3) * input.width * input.height;
  const a = new Float32Array(size + 9).fill(-7.25);
  const b = new Float32Array(size + 9).fill(-7.25);
  const ga = ts.letterboxInto(img, spec, input, a, 5);
  const gb = native.letterboxInto(img, spec, input, b, 5);
  assert.deepEqual(gb, ga, 'geometry');
  return compare(b, a);
}

describe('native letterboxInto equals preprocessInto', { skip: NO_NATIVE }, () => {
  for (const name of ['bus.jpg', 'dog.jpg'] as const) {
    test(`${name}: every spec and input size, bit-exact`, () => {
      const img = mediaImage(name);
      for (const [label, spec] of Object.entries(SPECS)) {
        for (const input of INPUTS) {
          const { differ, maxDiff } = bothLetterbox(img, spec, input);
          assert.equal(
            differ,
            0,
            `${label} ${input.width}x${input.height}: ${differ} differ, max ${maxDiff}`,
          );
        }
      }
    });
  }

  test('seeded frames of random sizes (1x1 up to 1000x700), random inputs, bit-exact', () => {
    const rand = prng(42);
    const specs = Object.entries(SPECS);
    for (let i = 0; i < 60; i++) {
      const w = i === 0 ? 1 : 1 + Math.floor(rand() * 1000);
      const h = i === 0 ? 1 : 1 + Math.floor(rand() * 700);
      const img = randomFrame(w, h, i);
      const [label, spec0] = specs[i % specs.length]!;
      const input = { width: 1 + Math.floor(rand() * 500), height: 1 + Math.floor(rand() * 500) };
      // crop needs a short side that covers the input.
      const spec =
        spec0.resize === 'crop'
          ? { ...spec0, resizeShort: Math.max(input.width, input.height) + Math.floor(rand() * 40) }
          : spec0;
      const { differ, maxDiff } = bothLetterbox(img, spec, input);
      assert.equal(
        differ,
        0,
        `${label} ${w}x${h} -> ${input.width}x${input.height}: ${differ} differ, max ${maxDiff}`,
      );
    }
  });

  test('a decoder-scaled frame (sourceWidth/Height) and a frame already at the resized size (copy path)', () => {
    const bus = mediaImage('bus.jpg');
    const half = { ...crop(bus, 0, 0, 405, 540), sourceWidth: 810, sourceHeight: 1080 };
    for (const [label, spec] of Object.entries(SPECS)) {
      const r = bothLetterbox(half, spec, { width: 416, height: 416 });
      assert.equal(r.differ, 0, `scaled ${label}: max ${r.maxDiff}`);
    }
    // 480x640 into 640x640 letterbox is exactly the resized size: no resampling on either side.
    const exact = crop(bus, 100, 200, 480, 640);
    const r = bothLetterbox(exact, SPECS['yolov8 letterbox centre NCHW RGB /255']!, {
      width: 640,
      height: 640,
    });
    assert.equal(r.differ, 0);
  });
});

describe('native cropResize equals cropImage + preprocessInto', { skip: NO_NATIVE }, () => {
  function randomBoxes(rand: () => number, w: number, h: number, n: number): Box[] {
    const boxes: Box[] = [];
    for (let i = 0; i < n; i++) {
      const x1 = rand() * w * 1.1 - w * 0.05;
      const y1 = rand() * h * 1.1 - h * 0.05;
      boxes.push([x1, y1, x1 + 1 + rand() * w * 0.4, y1 + 1 + rand() * h * 0.6]);
    }
    // Edge cases: outside the frame, a sliver, the whole frame, exactly the output size.
    boxes.push([w + 5, 10, w + 50, 60], [-30, -30, -1, -1], [10.2, 10.7, 10.9, 11.1], [0, 0, w, h]);
    boxes.push([3, 4, 3 + 128, 4 + 256]);
    return boxes;
  }

  for (const name of ['bus.jpg', 'dog.jpg'] as const) {
    test(`${name}: 16+ person-sized crops to 128x256 and 64x64, bit-exact`, () => {
      const img = mediaImage(name);
      const rand = prng(7);
      const boxes = randomBoxes(rand, img.width, img.height, 16);
      for (const [w, h] of [
        [128, 256],
        [64, 64],
      ] as const) {
        const a = ts.cropResize(img, boxes, w, h);
        const b = native.cropResize(img, boxes, w, h);
        assert.deepEqual(b.valid, a.valid);
        assert.equal(b.count, boxes.length);
        assert.ok(
          Buffer.from(b.data).equals(Buffer.from(a.data)),
          `${w}x${h}: ${compare(b.data, a.data).differ} bytes differ`,
        );
      }
    });
  }

  test('random frame sizes, flat Float32Array boxes and a scaled frame', () => {
    const rand = prng(99);
    for (let i = 0; i < 20; i++) {
      const w = 1 + Math.floor(rand() * 600);
      const h = 1 + Math.floor(rand() * 400);
      const img = { ...randomFrame(w, h, 100 + i), sourceWidth: w * 2, sourceHeight: h * 2 };
      const boxes = Float32Array.from(randomBoxes(rand, w * 2, h * 2, 6).flat());
      const ow = 1 + Math.floor(rand() * 100);
      const oh = 1 + Math.floor(rand() * 200);
      const a = ts.cropResize(img, boxes, ow, oh);
      const b = native.cropResize(img, boxes, ow, oh);
      assert.deepEqual(b.valid, a.valid);
      assert.ok(Buffer.from(b.data).equals(Buffer.from(a.data)), `${w}x${h} -> ${ow}x${oh}`);
    }
  });
});

describe('native denoiseNlm equals the TypeScript one', { skip: NO_NATIVE }, () => {
  function check(img: ImageBuffer, options: Parameters<Kernels['denoiseNlm']>[1], label: string): number {
    const a = ts.denoiseNlm(img, options);
    const b = native.denoiseNlm(img, options);
    assert.equal(b.width, a.width);
    assert.equal(b.height, a.height);
    // Exact: the native kernel is handed the TypeScript weight table (libm's exp differs in the last bit).
    const { differ, maxDiff } = compare(b.data, a.data);
    assert.equal(differ, 0, `${label}: ${differ} of ${a.data.length} bytes differ (max ${maxDiff})`);
    return differ;
  }

  test('crops of bus.jpg and dog.jpg with the default and other options', () => {
    const bus = mediaImage('bus.jpg');
    const dog = mediaImage('dog.jpg');
    let differ = 0;
    differ += check(crop(bus, 200, 300, 200, 150), {}, 'bus default');
    differ += check(crop(bus, 0, 0, 120, 90), { h: 25, patchSize: 5, searchSize: 11 }, 'bus h25 p5 s11');
    differ += check(crop(dog, 100, 100, 160, 120), { h: 4, patchSize: 1, searchSize: 3 }, 'dog h4 p1 s3');
    differ += check(crop(dog, 50, 60, 64, 48), { h: 60, patchSize: 9, searchSize: 21 }, 'dog h60 p9 s21');
    // h below 0.09 across a black/white edge: D * k passes 2^31, which the TypeScript loop once wrapped with | 0
    // (NaN weights: white pixels next to the edge came out black; the native kernel gave those neighbours 0).
    const edge = new Uint8Array(24 * 16 * 3);
    for (let i = 0; i < 24 * 16; i++) if (i % 24 >= 12) edge.fill(255, i * 3, i * 3 + 3);
    const edgeImage = { data: edge, width: 24, height: 16 };
    differ += check(edgeImage, { h: 0.05 }, 'edge h0.05');
    assert.deepEqual(ts.denoiseNlm(edgeImage, { h: 0.05 }).data, edge);
    assert.equal(differ, 0);
  });

  test('seeded frames of random sizes, down to 1x1', () => {
    const rand = prng(5);
    for (let i = 0; i < 12; i++) {
      const w = i === 0 ? 1 : 1 + Math.floor(rand() * 90);
      const h = i === 0 ? 1 : 1 + Math.floor(rand() * 70);
      check(randomFrame(w, h, 500 + i), { h: 5 + rand() * 30 }, `${w}x${h}`);
    }
  });
});

describe('native bgrToYcbcr equals the TypeScript one', { skip: NO_NATIVE }, () => {
  test('bus.jpg, dog.jpg and random sizes, bit-exact', () => {
    const rand = prng(3);
    const images = [mediaImage('bus.jpg'), mediaImage('dog.jpg')];
    for (let i = 0; i < 10; i++)
      images.push(randomFrame(1 + Math.floor(rand() * 300), 1 + Math.floor(rand() * 300), i));
    for (const img of images) {
      const a = ts.bgrToYcbcr(img);
      const b = native.bgrToYcbcr(img);
      assert.equal(b.width, a.width);
      assert.equal(b.height, a.height);
      for (const k of ['y', 'cb', 'cr'] as const) assert.equal(compare(b[k], a[k]).differ, 0, `${k}`);
    }
  });
});

describe('native motionMask equals the TypeScript one', { skip: NO_NATIVE }, () => {
  test('a moved object on bus.jpg and random frames, every option, exact', () => {
    const bus = crop(mediaImage('bus.jpg'), 0, 0, 640, 480);
    const moved = crop(mediaImage('bus.jpg'), 6, 3, 640, 480);
    const pairs: [ImageBuffer, ImageBuffer][] = [[bus, moved]];
    const rand = prng(11);
    for (let i = 0; i < 8; i++) {
      const w = 1 + Math.floor(rand() * 200);
      const h = 1 + Math.floor(rand() * 150);
      pairs.push([randomFrame(w, h, i), randomFrame(w, h, i + 1000)]);
    }
    for (const [prev, cur] of pairs) {
      for (const options of [
        {},
        { threshold: 10, openRadius: 0, closeRadius: 0 },
        { threshold: 40.5, openRadius: 2, closeRadius: 3 },
      ]) {
        const a = ts.motionMask(prev.data, cur.data, prev.width, prev.height, options);
        const b = native.motionMask(prev.data, cur.data, prev.width, prev.height, options);
        assert.equal(b.changed, a.changed);
        assert.equal(b.fraction, a.fraction);
        assert.ok(Buffer.from(b.mask).equals(Buffer.from(a.mask)));
      }
    }
    // Luma planes instead of BGR frames.
    const yp = ts.bgrToYcbcr(bus).y;
    const lp = Uint8Array.from(yp, (v) => Math.round(v));
    const lc = Uint8Array.from(ts.bgrToYcbcr(moved).y, (v) => Math.round(v));
    const a = ts.motionMask(lp, lc, 640, 480);
    const b = native.motionMask(lp, lc, 640, 480);
    assert.ok(Buffer.from(b.mask).equals(Buffer.from(a.mask)));
  });
});
