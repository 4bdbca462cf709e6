// Golden tests: both detectors on the reference images through onnxruntime-node, against DATA.md's verified outputs.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Box, Detection } from '@sightline/shared';
import ort from 'onnxruntime-node';
import { hasDjpeg, referenceImage } from '../media/reference-image.ts';
import { loadModel } from '../models/load.ts';
import { preprocessInto } from '../preprocess/preprocess.ts';
import { createDetectionAdapter, type OutputMap } from './adapter.ts';

const media = process.env.SIGHTLINE_MEDIA_DIR ?? '';
const djpeg = hasDjpeg;

async function detect(modelId: string, image: string, confidence: number, iou: number): Promise<Detection[]> {
  const model = await loadModel(modelId, { verify: false });
  const session = await ort.InferenceSession.create(model.path, { intraOpNumThreads: 1 });
  try {
    const [, c, h, w] = model.entry.input.shape as [number, number, number, number];
    const input = new Float32Array(c * h * w);
    const img = referenceImage(join(media, image));
    const geometry = preprocessInto(img, model.entry.preprocess, { width: w, height: h }, input);
    const out = await session.run({
      [model.entry.input.name]: new ort.Tensor('float32', input, [1, c, h, w]),
    });
    const outputs: OutputMap = Object.fromEntries(
      Object.entries(out).map(([k, v]) => [k, { data: v.data as Float32Array, dims: v.dims }]),
    );
    return createDetectionAdapter(model.entry, model.labels).decode(outputs, 0, geometry, {
      confidence,
      iou,
    });
  } finally {
    await session.release();
  }
}

interface Ref {
  label: string;
  score: number;
  box?: Box;
  /** Per-coordinate tolerance in px where the reference decoder's JPEG path shifts an edge (default 2). */
  tol?: [number, number, number, number];
}

/** Pair detections and references of each class by score rank (best with best); no extras allowed. */
function assertMatches(got: Detection[], refs: Ref[], what: string): void {
  assert.equal(
    got.length,
    refs.length,
    `${what}: ${got.map((d) => `${d.label} ${d.score.toFixed(3)}`).join(', ')}`,
  );
  for (const label of new Set(refs.map((r) => r.label))) {
    const mine = got.filter((d) => d.label === label).sort((a, b) => b.score - a.score);
    const theirs = refs.filter((r) => r.label === label).sort((a, b) => b.score - a.score);
    assert.equal(mine.length, theirs.length, `${what}: ${mine.length} ${label} vs ${theirs.length} expected`);
    theirs.forEach((ref, i) => {
      const d = mine[i]!;
      assert.ok(Math.abs(d.score - ref.score) <= 0.01, `${what}: ${label} score ${d.score} vs ${ref.score}`);
      if (!ref.box) return;
      const tol = ref.tol ?? [2, 2, 2, 2];
      d.box.forEach((v, k) => {
        assert.ok(
          Math.abs(v - ref.box![k]!) <= tol[k]!,
          `${what}: ${label} box [${d.box.map((x) => x.toFixed(1))}] vs [${ref.box}] (coordinate ${k})`,
        );
      });
    });
  }
}

describe('golden detections (DATA.md)', {
  skip: !djpeg && 'djpeg (libjpeg-turbo-progs) not installed: the reference decode is needed',
}, () => {
  test('yolox_nano on bus.jpg (conf 0.3, NMS 0.45)', async () => {
    assertMatches(
      await detect('yolox_nano', 'bus.jpg', 0.3, 0.45),
      [
        { label: 'bus', score: 0.903, box: [14, 231, 801, 733] },
        { label: 'person', score: 0.858, box: [50, 395, 216, 898] },
        { label: 'person', score: 0.808, box: [220, 402, 347, 855] },
        { label: 'person', score: 0.696, box: [685, 454, 810, 874] },
      ],
      'yolox bus',
    );
  });

  test('yolox_nano on dog.jpg (conf 0.3, NMS 0.45)', async () => {
    assertMatches(
      await detect('yolox_nano', 'dog.jpg', 0.3, 0.45),
      [
        { label: 'dog', score: 0.855, box: [133, 207, 326, 543] },
        { label: 'bicycle', score: 0.803, box: [52, 137, 572, 424] },
        { label: 'car', score: 0.798, box: [466, 78, 692, 171] },
        { label: 'truck', score: 0.306 },
      ],
      'yolox dog',
    );
  });

  // DATA.md lists YOLOv8 scores (and the bus box) from Ultralytics' defaults: conf 0.25, NMS IoU 0.7.
  test('yolov8n_int8 on bus.jpg (conf 0.25, NMS 0.7)', async () => {
    assertMatches(
      await detect('yolov8n_int8', 'bus.jpg', 0.25, 0.7),
      [
        { label: 'person', score: 0.91 },
        { label: 'person', score: 0.904 },
        { label: 'person', score: 0.901 },
        { label: 'bus', score: 0.849, box: [35, 231, 798, 767] },
        { label: 'person', score: 0.352 },
      ],
      'yolov8 bus',
    );
  });

  test('yolov8n_int8 on dog.jpg (conf 0.25, NMS 0.7)', async () => {
    assertMatches(
      await detect('yolov8n_int8', 'dog.jpg', 0.25, 0.7),
      [
        { label: 'dog', score: 0.958 },
        { label: 'bicycle', score: 0.823 },
        { label: 'truck', score: 0.714 },
        { label: 'car', score: 0.587 },
      ],
      'yolov8 dog',
    );
  });

  // DATA.md: YOLOv8n-seg on bus.jpg (Ultralytics defaults) finds bus 0.875 and people 0.853 / 0.743 / 0.727, and
  // each mask fills 27-66 % of its box.
  test('yolov8n_seg_int8_320 on bus.jpg: detections and an instance mask for each', async () => {
    const got = await detect('yolov8n_seg_int8_320', 'bus.jpg', 0.25, 0.7);
    assertMatches(
      got,
      [
        { label: 'bus', score: 0.875 },
        { label: 'person', score: 0.853 },
        { label: 'person', score: 0.743 },
        { label: 'person', score: 0.727 },
      ],
      'yolov8-seg bus',
    );
    for (const d of got) {
      const m = d.mask;
      assert.ok(m, `${d.label} ${d.score.toFixed(3)} has a mask`);
      assert.equal(
        m.counts.reduce((a, b) => a + b, 0),
        m.w * m.h,
        'the runs cover the grid exactly',
      );
      // The grid is the box's prototype cells (4 model pixels each; 1080/320 source pixels per model pixel).
      const cell = 4 / (320 / 1080);
      for (const k of [0, 1, 2, 3] as const) {
        assert.ok(Math.abs(m.box[k] - d.box[k]) <= cell + 0.5, `mask box ${m.box} around ${d.box}`);
      }
      const inside = m.counts.reduce((a, run, i) => (i % 2 ? a + run : a), 0);
      const fill = inside / (m.w * m.h);
      assert.ok(fill >= 0.2 && fill <= 0.75, `${d.label} mask fills ${(fill * 100).toFixed(0)} % of its box`);
    }
  });
});
