import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Detection, InferenceConfig } from '@sightline/shared';
import { InferencePool } from '../inference/inference-pool.ts';
import { loadModel } from '../models/load.ts';
import { cropImage } from '../preprocess/crop.ts';
import { ReidStage } from './reid-stage.ts';

const skip = !process.env.MODELS_DIR && 'MODELS_DIR not set';
const det = (box: Detection['box'], label = 'person'): Detection => ({ box, score: 0.9, classId: 0, label });

/** A 200x100 frame (scaled copy of a 400x200 source) with a bright block where the person stands. */
function frame() {
  const width = 200;
  const height = 100;
  const data = new Uint8Array(width * height * 3);
  for (let y = 10; y < 90; y++)
    for (let x = 20; x < 60; x++) data.fill(200, (y * width + x) * 3, (y * width + x) * 3 + 3);
  return { data, width, height, sourceWidth: 400, sourceHeight: 200 };
}

let stage: ReidStage;
before(async () => {
  if (skip) return;
  stage = await ReidStage.create({ inference: InferenceConfig.parse({}), reid: { minHeight: 40 } });
});
after(() => stage?.close());

test('only wanted detections of a re-ID class and tall enough get embeddings', { skip }, async () => {
  const dets = [
    det([40, 20, 120, 180]),
    det([200, 20, 260, 50]),
    det([300, 20, 380, 180], 'car'),
    det([0, 0, 50, 100]),
  ];
  const eligible = stage.eligible(dets, [true, true, true, false]);
  assert.deepEqual(
    eligible,
    [true, false, false, false],
    'short person, a car and an unwanted one are skipped',
  );
  const { embeddings } = await stage.appearance(frame(), dets, eligible);
  assert.equal(embeddings.length, 4);
  assert.equal(embeddings[0]?.length, 512);
  assert.deepEqual(embeddings.slice(1), [undefined, undefined, undefined]);
  assert.deepEqual(stage.stats(), { crops: 1, calls: 1, failures: 0 });
});

test('crops map source boxes onto scaled frames and clamp to the frame', () => {
  const f = frame();
  const c = cropImage(f, [40, 20, 120, 180]);
  assert.deepEqual([c?.width, c?.height], [40, 80]);
  assert.equal(c?.data[0], 200, 'the crop starts on the bright block');
  assert.deepEqual(
    [cropImage(f, [-50, -50, 20, 20])?.width, cropImage(f, [-50, -50, 20, 20])?.height],
    [10, 10],
  );
  assert.equal(cropImage(f, [500, 0, 600, 10]), undefined, 'outside the frame');
});

test('the pool embeds only with a re-ID model and within its batch', { skip }, async () => {
  const model = await loadModel('yolox_nano');
  const detector = await InferencePool.create({
    model: model.entry,
    modelPath: model.path,
    labels: model.labels,
  });
  try {
    await assert.rejects(
      detector.embed([{ data: new Uint8Array(3), width: 1, height: 1 }]),
      /yolox_nano is not a re-ID model/,
    );
  } finally {
    await detector.close();
  }
  const osnet = await loadModel('osnet_x0_25_msmt17');
  const pool = await InferencePool.create({
    model: osnet.entry,
    modelPath: osnet.path,
    labels: [],
    inference: { sessions: 1, batchSize: 4 },
  });
  try {
    assert.equal(pool.maxBatch, 4);
    const crop = () => ({ data: new Uint8Array(8 * 16 * 3).fill(90), width: 8, height: 16 });
    await assert.rejects(pool.embed([]), /Expected 1\.\.4 crops/);
    await assert.rejects(pool.embed([crop(), crop(), crop(), crop(), crop()]), /Expected 1\.\.4 crops/);
    const { embeddings } = await pool.embed([crop(), crop()]);
    assert.equal(embeddings.length, 2);
    assert.ok(Math.abs(embeddings[0]!.reduce((s, v, i) => s + v * embeddings[1]![i]!, 0) - 1) < 1e-5);
  } finally {
    await pool.close();
  }
});
