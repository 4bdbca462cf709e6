// Unit tests of the classifier and segmentation decoders on hand-made tensors, malformed ones included.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ModelError, PreprocessSpec } from '@sightline/shared';
import { planPlacement } from '../preprocess/geometry.ts';
import { createClassificationAdapter, topK } from './classifier.ts';
import { classAtSource, classMapToSource, createSegmentationAdapter, imageRegion } from './segmentation.ts';
import type { OutputMap } from './types.ts';

const tensor = (dims: number[], values?: number[]) => ({
  dims,
  data: Float32Array.from(values ?? new Array(dims.reduce((a, b) => a * b, 1)).fill(0)),
});

describe('classifier decoder', () => {
  const entry = {
    id: 'cls_test',
    adapter: 'classifier' as const,
    outputs: [{ name: 'logits', shape: [-1, 4] }],
  };
  const labels = ['ant', 'bee', 'cat', 'dog'];
  const adapter = createClassificationAdapter(entry, labels);

  test('softmax + top-k of the requested batch row, best first', () => {
    // Row 1: logits ln(1), ln(2), ln(3), ln(4) -> probabilities 0.1, 0.2, 0.3, 0.4.
    const out = { logits: tensor([2, 4], [9, 0, 0, 0, ...[1, 2, 3, 4].map(Math.log)]) };
    const got = adapter.decode(out, 1, { topK: 2 });
    assert.deepEqual(
      got.map((c) => c.label),
      ['dog', 'cat'],
    );
    assert.ok(Math.abs(got[0]!.score - 0.4) < 1e-6 && Math.abs(got[1]!.score - 0.3) < 1e-6);
    assert.equal(got[0]!.classId, 3);
    assert.equal(adapter.decode(out, 0, { topK: 1 })[0]!.label, 'ant', 'row 0 is another image');
    assert.equal(adapter.decode(out, 1).length, 4, 'default 5, capped at the class count');
  });

  test('huge logits do not overflow, and ties keep the lower class id first', () => {
    const got = adapter.decode({ logits: tensor([1, 4], [1000, 1000, -1000, 999]) }, 0);
    assert.deepEqual(
      got.map((c) => c.classId),
      [0, 1, 3, 2],
    );
    assert.ok(Math.abs(got[0]!.score - 1 / (2 + Math.exp(-1))) < 1e-9);
    assert.deepEqual(topK([5, 1, 5, 7, 0], 5, 3), [3, 0, 2]);
  });

  test('malformed outputs: clear ModelErrors naming the model and what was expected', () => {
    const cases: [OutputMap, RegExp][] = [
      [{ other: tensor([1, 4]) }, /Model cls_test produced no output "logits" \(outputs: other\)/],
      [
        { logits: tensor([1, 4, 1]) },
        /Model cls_test output "logits" has dims \[1,4,1\]; expected 2 positive/,
      ],
      [{ logits: tensor([1, 0]) }, /Model cls_test output "logits" has dims \[1,0\]; expected 2 positive/],
      [
        { logits: tensor([1, 5]) },
        /Model cls_test output "logits" has dims \[1,5\]; its 4 labels need \[1,4\]/,
      ],
      [{ logits: { dims: [1, 4], data: new Float32Array(3) } }, /has 3 values but its dims \[1,4\] need 4/],
      [{ logits: tensor([1, 4], [0, Number.NaN, 0, 0]) }, /row 0 holds a logit that is not finite/],
    ];
    for (const [out, message] of cases) {
      assert.throws(
        () => adapter.decode(out, 0),
        (e: unknown) => e instanceof ModelError && message.test(e.message),
      );
    }
  });

  test('batch index out of range, bad topK and the wrong adapter are rejected', () => {
    const out = { logits: tensor([2, 4]) };
    for (const i of [2, -1, 0.5]) {
      assert.throws(() => adapter.decode(out, i), /Expected an integer in 0\.\.1 for batchIndex/);
    }
    assert.throws(() => adapter.decode(out, 0, { topK: 0 }), RangeError);
    assert.throws(
      () => createClassificationAdapter({ ...entry, adapter: 'deeplab' }, labels),
      /Model cls_test uses adapter "deeplab", which is not a classification adapter \(classifier\)/,
    );
  });
});

describe('segmentation decoder', () => {
  const entry = {
    id: 'seg_test',
    adapter: 'deeplab' as const,
    outputs: [{ name: 'seg', shape: [1, 4, 4, 3] }],
  };
  const labels = ['background', 'cat', 'dog'];
  const adapter = createSegmentationAdapter(entry, labels);
  const letterbox = PreprocessSpec.parse({ resize: 'letterbox', layout: 'NHWC', colour: 'RGB' });
  const stretch = PreprocessSpec.parse({ resize: 'stretch', layout: 'NHWC', colour: 'RGB' });

  /** A [batch, 4, 4, 3] logit map whose argmax per pixel is `classes[b][y * 4 + x]`. */
  function logits(...classes: number[][]) {
    const v: number[] = [];
    for (const map of classes) for (const c of map) v.push(...[0, 1, 2].map((k) => (k === c ? 2 : -1)));
    return { seg: tensor([classes.length, 4, 4, 3], v) };
  }

  // 8x4 frame letterboxed (centred) into 4x4: rows 0 and 3 are padding, the image is rows 1-2.
  const map = [0, 0, 0, 0, 1, 1, 2, 2, 1, 1, 1, 2, 0, 0, 0, 0];

  test('class map at model resolution; areas over the image only, largest first', () => {
    const g = planPlacement(letterbox, 8, 4, 4, 4);
    const r = adapter.decode(logits(new Array(16).fill(2), map), 1, g);
    assert.deepEqual([...r.classMap], map);
    assert.deepEqual([r.width, r.height], [4, 4]);
    assert.deepEqual(r.region, { x: 0, y: 1, width: 4, height: 2 });
    assert.deepEqual(r.classes, [
      { classId: 1, label: 'cat', fraction: 5 / 8 },
      { classId: 2, label: 'dog', fraction: 3 / 8 },
    ]);
    // Stretch: no padding, every pixel counts.
    const s = adapter.decode(logits(map), 0, planPlacement(stretch, 8, 4, 4, 4));
    assert.deepEqual(
      s.classes.map((c) => [c.label, c.fraction]),
      [
        ['background', 0.5],
        ['cat', 5 / 16],
        ['dog', 3 / 16],
      ],
    );
  });

  test('maps back to the source frame (nearest), at full size or scaled', () => {
    const r = adapter.decode(logits(map), 0, planPlacement(letterbox, 8, 4, 4, 4));
    // Each map pixel of the image rows covers 2x2 source pixels.
    const full = classMapToSource(r);
    assert.equal(full.length, 32);
    const row1 = [1, 1, 1, 1, 2, 2, 2, 2];
    const row2 = [1, 1, 1, 1, 1, 1, 2, 2];
    assert.deepEqual([...full], [...row1, ...row1, ...row2, ...row2]);
    assert.deepEqual([...classMapToSource(r, 4, 2)], [1, 1, 2, 2, 1, 1, 1, 2]);
    assert.equal(classAtSource(r, 7, 0), 2);
    assert.equal(classAtSource(r, 0, 3), 1);
    assert.equal(classAtSource(r, -5, 99), 1, 'clamped into the image, never the padding');
    assert.throws(() => classMapToSource(r, 0, 2), /Expected a positive integer for width/);
  });

  test('image region: letterbox excludes padding, crop and stretch cover the map, coarser maps scale', () => {
    // 416x312 image from row 52; on a 52x52 map (8 px a cell) the cells whose centre is inside: rows 6-44.
    assert.deepEqual(imageRegion(planPlacement(letterbox, 768, 576, 416, 416), 416, 416), {
      x: 0,
      y: 52,
      width: 416,
      height: 312,
    });
    assert.deepEqual(imageRegion(planPlacement(letterbox, 768, 576, 416, 416), 52, 52), {
      x: 0,
      y: 6,
      width: 52,
      height: 39,
    });
    const crop = PreprocessSpec.parse({ resize: 'crop', resizeShort: 256, layout: 'NCHW', colour: 'RGB' });
    assert.deepEqual(imageRegion(planPlacement(crop, 810, 1080, 224, 224), 224, 224), {
      x: 0,
      y: 0,
      width: 224,
      height: 224,
    });
  });

  test('malformed outputs: clear ModelErrors naming the model and what was expected', () => {
    const g = planPlacement(stretch, 4, 4, 4, 4);
    const cases: [OutputMap, RegExp][] = [
      [{ logits: tensor([1, 4, 4, 3]) }, /Model seg_test produced no output "seg" \(outputs: logits\)/],
      [
        { seg: tensor([1, 3, 4, 4]) },
        /Model seg_test output "seg" has dims \[1,3,4,4\]; expected NHWC \[1,height,width,3\]/,
      ],
      [{ seg: tensor([1, 16, 3]) }, /Model seg_test output "seg" has dims \[1,16,3\]; expected 4 positive/],
      [{ seg: tensor([1, 4, 4, 0]) }, /expected 4 positive dimensions/],
    ];
    for (const [out, message] of cases) {
      assert.throws(
        () => adapter.decode(out, 0, g),
        (e: unknown) => e instanceof ModelError && message.test(e.message),
      );
    }
    assert.throws(() => adapter.decode(logits(map), 1, g), /Expected an integer in 0\.\.0 for batchIndex/);
    const outside = { ...g, offsetX: 10 };
    assert.throws(() => adapter.decode(logits(map), 0, outside), /Expected a geometry whose image overlaps/);
    assert.throws(
      () => createSegmentationAdapter({ ...entry, adapter: 'classifier' }, labels),
      /Model seg_test uses adapter "classifier", which is not a segmentation adapter \(deeplab\)/,
    );
  });
});
