import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PreprocessSpec } from '@sightline/shared';
import type { ImageBuffer } from '../frame.ts';
import { planPlacement, toModelX, toModelY, toSourceX, toSourceY } from './geometry.ts';
import { preprocessInto } from './preprocess.ts';

const yolox = PreprocessSpec.parse({ resize: 'letterbox', align: 'top-left', layout: 'NCHW', colour: 'BGR' });
const yolov8 = PreprocessSpec.parse({
  resize: 'letterbox',
  align: 'center',
  layout: 'NCHW',
  colour: 'RGB',
  scale: 1 / 255,
});

/** A deterministic BGR test pattern: smooth gradients plus a little per-pixel texture. */
function pattern(width: number, height: number): ImageBuffer {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = (x * 255) / (width - 1);
      data[i + 1] = (y * 255) / (height - 1);
      data[i + 2] = (x * 7 + y * 13) % 256;
    }
  }
  return { data, width, height };
}

/** Reference bilinear (OpenCV INTER_LINEAR half-pixel convention) in floating point, one sample. */
function bilinearRef(img: ImageBuffer, dw: number, dh: number, dx: number, dy: number, c: number): number {
  const fx = Math.min(Math.max((dx + 0.5) * (img.width / dw) - 0.5, 0), img.width - 1);
  const fy = Math.min(Math.max((dy + 0.5) * (img.height / dh) - 0.5, 0), img.height - 1);
  const x0 = Math.floor(fx);
  const y0 = Math.floor(fy);
  const x1 = Math.min(x0 + 1, img.width - 1);
  const y1 = Math.min(y0 + 1, img.height - 1);
  const ax = fx - x0;
  const ay = fy - y0;
  const p = (x: number, y: number) => img.data[(y * img.width + x) * 3 + c]!;
  return (p(x0, y0) * (1 - ax) + p(x1, y0) * ax) * (1 - ay) + (p(x0, y1) * (1 - ax) + p(x1, y1) * ax) * ay;
}

describe('planPlacement', () => {
  test('top-left letterbox of 768x576 into 416x416 keeps the aspect and pads bottom only', () => {
    const p = planPlacement(yolox, 768, 576, 416, 416);
    assert.equal(p.resizedWidth, 416);
    assert.equal(p.resizedHeight, 312);
    assert.equal(p.offsetX, 0);
    assert.equal(p.offsetY, 0);
    assert.ok(Math.abs(p.scaleX - 416 / 768) < 1e-12);
  });

  test('centred letterbox of 810x1080 into 640x640 pads 80 px left and right', () => {
    const p = planPlacement(yolov8, 810, 1080, 640, 640);
    assert.equal(p.resizedWidth, 480);
    assert.equal(p.resizedHeight, 640);
    assert.equal(p.offsetX, 80);
    assert.equal(p.offsetY, 0);
  });

  test('odd padding puts the extra pixel on the right/bottom', () => {
    const p = planPlacement(yolov8, 101, 51, 64, 64);
    // r = 64/101, inner 64x32 -> pad 32 total on y, 16 top
    assert.equal(p.resizedWidth, 64);
    assert.equal(p.resizedHeight, 32);
    assert.equal(p.offsetY, 16);
    const q = planPlacement(yolov8, 51, 103, 64, 64);
    assert.equal(q.resizedHeight, 64);
    assert.equal(q.resizedWidth, 32);
    assert.equal(q.offsetX, 16);
    const odd = planPlacement(yolov8, 50, 100, 65, 65);
    // inner 33x65 (round(32.5)=33), pad 32 -> 16 left, 16 right
    assert.equal(odd.resizedWidth, 33);
    assert.equal(odd.offsetX, 16);
  });

  for (const [name, spec] of [
    ['top-left', yolox],
    ['center', yolov8],
  ] as const) {
    test(`${name}: source -> model -> source round-trips for many sizes`, () => {
      for (const [sw, sh] of [
        [768, 576],
        [810, 1080],
        [1920, 1080],
        [333, 777],
        [1, 1],
        [4097, 3],
      ] as const) {
        const g = planPlacement(spec, sw, sh, 416, 416);
        for (const [x, y] of [
          [0, 0],
          [sw, sh],
          [sw / 3, sh / 7],
        ]) {
          const mx = toModelX(g, x!);
          const my = toModelY(g, y!);
          assert.ok(mx >= 0 && mx <= 416 + 1e-9 && my >= 0 && my <= 416 + 1e-9, `${sw}x${sh} inside input`);
          assert.ok(Math.abs(toSourceX(g, mx) - x!) < 1e-9);
          assert.ok(Math.abs(toSourceY(g, my) - y!) < 1e-9);
        }
        // The far source corner lands on the far edge of the inner picture.
        assert.ok(Math.abs(toModelX(g, sw) - (g.offsetX + g.resizedWidth)) < 1e-9);
        assert.ok(Math.abs(toModelY(g, sh) - (g.offsetY + g.resizedHeight)) < 1e-9);
      }
    });
  }

  test('crop resizes the short side and centres the crop; its offset is negative', () => {
    const spec = PreprocessSpec.parse({ resize: 'crop', resizeShort: 256, layout: 'NCHW', colour: 'RGB' });
    const p = planPlacement(spec, 640, 480, 224, 224);
    assert.equal(p.resizedWidth, 341);
    assert.equal(p.resizedHeight, 256);
    assert.equal(p.windowX, 58, 'torchvision: int(round(58.5)) = 58 (halves to even)');
    assert.equal(planPlacement(spec, 644, 480, 224, 224).windowX, 60, '343 wide: round(59.5) = 60');
    assert.equal(p.windowY, 16);
    assert.equal(p.offsetX, -p.windowX);
    assert.ok(Math.abs(toSourceX(p, 112) - (112 + p.windowX) * (640 / 341)) < 1e-9);
    assert.throws(
      () => planPlacement({ ...spec, resizeShort: 100 }, 640, 480, 224, 224),
      /Expected resizeShort to cover the 224x224 input but received 100/,
    );
  });

  test('stretch maps each axis independently', () => {
    const spec = PreprocessSpec.parse({ resize: 'stretch', layout: 'NCHW', colour: 'RGB' });
    const g = planPlacement(spec, 800, 200, 100, 100);
    assert.equal(toSourceX(g, 100), 800);
    assert.equal(toSourceY(g, 50), 100);
  });

  test('rejects bad sizes with a RangeError naming the argument', () => {
    assert.throws(() => planPlacement(yolox, 0, 10, 416, 416), {
      name: 'RangeError',
      message: 'Expected a positive integer for sourceWidth but received 0 of type number',
    });
    assert.throws(() => planPlacement(yolox, 10, 10, 416.5, 416), /inputWidth but received 416.5/);
  });
});

describe('preprocessInto', () => {
  test('bilinear resize matches a floating-point INTER_LINEAR reference within 1 level', () => {
    const img = pattern(97, 61);
    const out = new Float32Array(3 * 64 * 64);
    preprocessInto(img, yolox, { width: 64, height: 64 }, out);
    // inner 64 x round(61*64/97)=40
    let worst = 0;
    for (let y = 0; y < 40; y++) {
      for (let x = 0; x < 64; x++) {
        for (let c = 0; c < 3; c++) {
          const ref = bilinearRef(img, 64, 40, x, y, c);
          worst = Math.max(worst, Math.abs(out[c * 4096 + y * 64 + x]! - ref));
        }
      }
    }
    assert.ok(worst <= 1, `worst difference ${worst}`);
    // Padding below the picture is 114 in every channel.
    assert.equal(out[40 * 64], 114);
    assert.equal(out[2 * 4096 + 63 * 64 + 63], 114);
  });

  test('an image already at the inner size is copied exactly (no resampling) and channels are swapped', () => {
    const img = pattern(416, 312);
    const out = new Float32Array(3 * 416 * 416 + 10).fill(-1);
    const g = preprocessInto(
      { ...img, sourceWidth: 768, sourceHeight: 576 },
      yolov8,
      { width: 416, height: 416 },
      out,
      10,
    );
    assert.equal(out[9], -1, 'writes nothing before the offset');
    assert.equal(g.sourceWidth, 768);
    assert.ok(Math.abs(g.scaleX - 416 / 768) < 1e-12);
    const padY = g.offsetY;
    assert.equal(padY, 52);
    const plane = 416 * 416;
    for (const [x, y] of [
      [0, 0],
      [415, 311],
      [123, 45],
    ] as const) {
      const s = (y * 416 + x) * 3;
      const o = 10 + (y + padY) * 416 + x;
      // RGB order, /255
      assert.ok(Math.abs(out[o]! - img.data[s + 2]! / 255) < 1e-6);
      assert.ok(Math.abs(out[o + plane]! - img.data[s + 1]! / 255) < 1e-6);
      assert.ok(Math.abs(out[o + 2 * plane]! - img.data[s]! / 255) < 1e-6);
    }
    assert.ok(Math.abs(out[10]! - 114 / 255) < 1e-6, 'top padding');
  });

  test('a pre-scaled frame gives the same geometry and nearly the same tensor as the full frame', () => {
    const full = pattern(768, 576);
    const a = new Float32Array(3 * 416 * 416);
    const ga = preprocessInto(full, yolox, { width: 416, height: 416 }, a);
    // Pre-scale the way a decoder would (here: with the same resampler, via a stretch to 416x312).
    const stretch = PreprocessSpec.parse({ resize: 'stretch', layout: 'NHWC', colour: 'BGR' });
    const small = new Float32Array(416 * 312 * 3);
    preprocessInto(full, stretch, { width: 416, height: 312 }, small);
    const smallImg = {
      data: Uint8Array.from(small),
      width: 416,
      height: 312,
      sourceWidth: 768,
      sourceHeight: 576,
    };
    const b = new Float32Array(3 * 416 * 416);
    const gb = preprocessInto(smallImg, yolox, { width: 416, height: 416 }, b);
    assert.deepEqual(gb, ga);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    assert.ok(worst <= 1, `worst difference ${worst}`);
  });

  test('NHWC layout with mean/std normalisation', () => {
    const spec = PreprocessSpec.parse({
      resize: 'stretch',
      layout: 'NHWC',
      colour: 'RGB',
      scale: 1 / 255,
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
    });
    const img = pattern(8, 4);
    const out = new Float32Array(8 * 4 * 3);
    preprocessInto(img, spec, { width: 8, height: 4 }, out);
    const s = (2 * 8 + 5) * 3;
    const o = (2 * 8 + 5) * 3;
    assert.ok(Math.abs(out[o]! - (img.data[s + 2]! / 255 - 0.485) / 0.229) < 1e-5);
    assert.ok(Math.abs(out[o + 2]! - (img.data[s]! / 255 - 0.406) / 0.225) < 1e-5);
  });

  test('crop takes the centre of the resized picture', () => {
    const spec = PreprocessSpec.parse({ resize: 'crop', resizeShort: 4, layout: 'NCHW', colour: 'BGR' });
    // 8x4 image, short side already 4: no resampling, crop 4x4 from x=2.
    const img = pattern(8, 4);
    const out = new Float32Array(3 * 16);
    const g = preprocessInto(img, spec, { width: 4, height: 4 }, out);
    assert.equal(g.offsetX, -2);
    assert.equal(out[0], img.data[2 * 3]);
    assert.equal(out[16 + 5], img.data[(1 * 8 + 3) * 3 + 1]);
  });

  test('Y colour writes one BT.601 luma plane', () => {
    const spec = PreprocessSpec.parse({ resize: 'stretch', layout: 'NCHW', colour: 'Y', scale: 1 / 255 });
    const img = { data: Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]), width: 2, height: 2 };
    const out = new Float32Array(4);
    preprocessInto(img, spec, { width: 2, height: 2 }, out);
    assert.ok(Math.abs(out[0]! - 0.114) < 1e-6);
    assert.ok(Math.abs(out[1]! - 0.587) < 1e-6);
    assert.ok(Math.abs(out[2]! - 0.299) < 1e-6);
  });

  test('rejects malformed images and short outputs with clear errors', () => {
    const out = new Float32Array(3 * 416 * 416);
    assert.throws(
      () =>
        preprocessInto(
          { data: new Uint8Array(10), width: 4, height: 4 },
          yolox,
          { width: 416, height: 416 },
          out,
        ),
      {
        name: 'RangeError',
        message: 'Expected at least 48 bytes of BGR24 for a 4x4 image but received 10',
      },
    );
    assert.throws(
      () =>
        preprocessInto(
          { data: new Uint8Array(48), width: -4, height: 4 },
          yolox,
          { width: 416, height: 416 },
          out,
        ),
      /Expected a positive integer for image.width but received -4 of type number/,
    );
    assert.throws(
      () => preprocessInto(pattern(4, 4), yolox, { width: 416, height: 416 }, out, 1),
      /Expected an output of at least 519169 floats but received 519168/,
    );
    assert.throws(
      () => preprocessInto(pattern(4, 4), yolox, { width: 416, height: 416 }, out, -1),
      /offset but received -1/,
    );
  });
});
