import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, ModelError } from '@sightline/shared';
import { planPlacement } from '../preprocess/geometry.ts';
import { createDetectionAdapter } from './adapter.ts';
import { Candidates, iouAt, nms } from './nms.ts';

function cands(rows: [number, number, number, number, number, number][]): Candidates {
  const c = new Candidates();
  for (const r of rows) c.push(...r);
  return c;
}

describe('nms', () => {
  test('suppresses overlapping boxes of the same class only (class-aware)', () => {
    const c = cands([
      [0, 0, 10, 10, 0.9, 0],
      [1, 1, 11, 11, 0.8, 0], // IoU 0.68 with #0, same class -> suppressed
      [1, 1, 11, 11, 0.7, 1], // other class -> kept
      [50, 50, 60, 60, 0.6, 0], // far away -> kept
    ]);
    assert.deepEqual(nms(c, { iou: 0.45 }), [0, 2, 3]);
    assert.deepEqual(nms(c, { iou: 0.45, agnostic: true }), [0, 3]);
  });

  test('the IoU threshold is exclusive and the confidence threshold inclusive', () => {
    // Two 10x10 boxes overlapping by half: IoU = 50 / 150 = 1/3.
    const c = cands([
      [0, 0, 10, 10, 0.9, 0],
      [5, 0, 15, 10, 0.5, 0],
    ]);
    const iou = iouAt(c.boxes, 0, 1);
    assert.ok(Math.abs(iou - 1 / 3) < 1e-6);
    assert.deepEqual(nms(c, { iou: Math.fround(iou) }), [0, 1], 'IoU equal to the threshold is kept');
    assert.deepEqual(nms(c, { iou: 0.3 }), [0]);
    assert.deepEqual(nms(c, { iou: 0.5, confidence: 0.5 }), [0, 1], 'score equal to confidence is kept');
    assert.deepEqual(nms(c, { iou: 0.5, confidence: 0.51 }), [0]);
  });

  test('orders by score, caps at maxDetections, and handles empty input', () => {
    const c = cands([
      [0, 0, 1, 1, 0.2, 0],
      [10, 10, 11, 11, 0.9, 0],
      [20, 20, 21, 21, 0.5, 0],
    ]);
    assert.deepEqual(nms(c, { iou: 0.5 }), [1, 2, 0]);
    assert.deepEqual(nms(c, { iou: 0.5, maxDetections: 2 }), [1, 2]);
    assert.deepEqual(nms(new Candidates(), { iou: 0.5 }), []);
  });

  test('grows past its initial capacity', () => {
    const c = new Candidates();
    for (let i = 0; i < 1000; i++) c.push(i * 10, 0, i * 10 + 5, 5, i / 1000, 0);
    assert.equal(c.count, 1000);
    assert.equal(nms(c, { iou: 0.5, maxDetections: 1000 }).length, 1000);
  });

  test('rejects thresholds outside 0..1', () => {
    assert.throws(() => nms(new Candidates(), { iou: 1.5 }), {
      name: 'RangeError',
      message: 'Expected a number between 0 and 1 for iou but received 1.5 of type number',
    });
    assert.throws(
      () => nms(new Candidates(), { iou: 0.5, maxDetections: 0 }),
      /maxDetections but received 0/,
    );
  });
});

const labels = ['person', 'bicycle', 'car'];
const yoloxEntry = {
  id: 'tiny_yolox',
  adapter: 'yolox' as const,
  outputs: [{ name: 'output', shape: [1, -1, 8] }],
};
const yolov8Entry = {
  id: 'tiny_v8',
  adapter: 'yolov8' as const,
  outputs: [{ name: 'output0', shape: [1, 7, -1] }],
};
const top = { resize: 'letterbox', align: 'top-left' } as const;

describe('detection adapters on synthetic tensors', () => {
  // 64x64 input -> 8x8 + 4x4 + 2x2 = 84 anchors
  test('yolox decodes grid/stride boxes into source pixels and applies the class filter', () => {
    const anchors = 84;
    const data = new Float32Array(anchors * 8);
    // anchor (gx=2, gy=3) at stride 8: row 3*8+2 = 26; centre ((0.5+2)*8, (0.5+3)*8) = (20, 28), size e^0*8*2
    const r = 26 * 8;
    data.set([0.5, 0.5, Math.log(2), Math.log(2), 0.9, 0.1, 0.8, 0.2], r);
    const g = planPlacement(top, 128, 64, 64, 64); // scale 0.5, no offset
    const ad = createDetectionAdapter(yoloxEntry, labels);
    const dets = ad.decode({ output: { data, dims: [1, anchors, 8] } }, 0, g, { confidence: 0.3, iou: 0.45 });
    assert.equal(dets.length, 1);
    assert.equal(dets[0]!.label, 'bicycle');
    assert.ok(Math.abs(dets[0]!.score - 0.72) < 1e-6);
    assert.deepEqual(
      dets[0]!.box.map((v) => Math.round(v * 1000) / 1000),
      [24, 40, 56, 72].map((v) => Math.min(v, 64)),
    );
    const onlyCars = ad.decode({ output: { data, dims: [1, anchors, 8] } }, 0, g, {
      confidence: 0.1,
      iou: 0.45,
      classes: ['car'],
    });
    assert.equal(onlyCars.length, 1);
    assert.equal(onlyCars[0]!.label, 'car');
    assert.ok(Math.abs(onlyCars[0]!.score - 0.18) < 1e-6);
    assert.throws(
      () =>
        ad.decode({ output: { data, dims: [1, anchors, 8] } }, 0, g, {
          confidence: 0.1,
          iou: 0.4,
          classes: ['cat'],
        }),
      (err: unknown) => err instanceof ConfigError && /"cat" not among the model's labels/.test(err.message),
    );
  });

  test('yolov8 reads the transposed [1, 4+classes, anchors] layout and clips to the frame', () => {
    const anchors = 84;
    const data = new Float32Array(7 * anchors);
    const i = 5;
    data[i] = 60; // cx
    data[anchors + i] = 20; // cy -> y 15..25 in model space, -2..18 in source
    data[2 * anchors + i] = 20; // w -> x 50..70, clipped at 64 in model space -> source 128
    data[3 * anchors + i] = 10;
    data[(4 + 2) * anchors + i] = 0.9;
    const g = planPlacement({ resize: 'letterbox', align: 'center' }, 128, 64, 64, 64); // offsetY 16
    const ad = createDetectionAdapter(yolov8Entry, labels);
    const [d] = ad.decode({ output0: { data, dims: [1, 7, anchors] } }, 0, g, { confidence: 0.5, iou: 0.5 });
    assert.ok(d);
    assert.equal(d.label, 'car');
    assert.deepEqual(d.box, [100, 0, 128, 18]);
  });

  test('malformed tensors give a ModelError naming the model, output and dims', () => {
    const g = planPlacement(top, 64, 64, 64, 64);
    const ad = createDetectionAdapter(yoloxEntry, labels);
    const opts = { confidence: 0.3, iou: 0.45 };
    const isModelError = (re: RegExp) => (err: unknown) =>
      err instanceof ModelError && err.code === 'MODEL_INVALID' && re.test(err.message);
    assert.throws(
      () => ad.decode({ output: { data: new Float32Array(80 * 8), dims: [1, 80, 8] } }, 0, g, opts),
      isModelError(
        /tiny_yolox output "output" has dims \[1,80,8\]; a YOLOX head for 64x64 needs \[1,84,5\+classes\]/,
      ),
    );
    assert.throws(
      () => ad.decode({ output: { data: new Float32Array(10), dims: [1, 84, 8] } }, 0, g, opts),
      isModelError(/has 10 values but its dims \[1,84,8\] need 672/),
    );
    assert.throws(
      () => ad.decode({ output: { data: new Float32Array(84 * 8), dims: [84, 8] } }, 0, g, opts),
      isModelError(/expected 3 positive dimensions/),
    );
    assert.throws(
      () => ad.decode({ other: { data: new Float32Array(1), dims: [1, 1, 1] } }, 0, g, opts),
      isModelError(/no output "output" \(outputs: other\)/),
    );
    assert.throws(
      () => ad.decode({ output: { data: new Float32Array(84 * 8), dims: [1, 84, 8] } }, 1, g, opts),
      /Expected an integer in 0..0 for batchIndex but received 1/,
    );
  });

  test('createDetectionAdapter refuses non-detection adapters', () => {
    assert.throws(
      () =>
        createDetectionAdapter(
          { id: 'mnv2', adapter: 'classifier', outputs: [{ name: 'output', shape: [1, 1000] }] },
          [],
        ),
      (err: unknown) =>
        err instanceof ModelError &&
        /adapter "classifier", which is not a detection adapter/.test(err.message),
    );
  });
});
