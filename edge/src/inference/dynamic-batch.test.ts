// The batch rewrite of batch-agnostic models: every model the catalogue marks batchAgnostic gives, batched, exactly
// its batch-1 outputs; a model that is not batch-agnostic fails loudly; bad bytes get a clear error.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import type { ModelEntry } from '@sightline/shared';
import { InferenceConfig } from '@sightline/shared';
import ort from 'onnxruntime-node';
import { loadModel } from '../models/load.ts';
import { findModel, loadManifest } from '../models/manifest.ts';
import { asDynamicBatch, batchedEntry, makeBatchDynamic, needsBatchRewrite } from './dynamic-batch.ts';
import { createSession } from './providers.ts';

const manifest = await loadManifest();
const agnostic = manifest.models.filter((m) => m.batchAgnostic);

/** Deterministic pseudo-random pixels in 0..255 (a small LCG), so every run compares the same inputs. */
function pixels(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = (x >>> 24) & 0xff;
  }
  return out;
}

async function runOne(session: ort.InferenceSession, entry: ModelEntry, data: Float32Array, n: number) {
  const dims = [n, ...entry.input.shape.slice(1)];
  return session.run({ [entry.input.name]: new ort.Tensor('float32', data, dims) });
}

describe('makeBatchDynamic', () => {
  test('the catalogue marks at least the default detector batch-agnostic', () => {
    assert.ok(agnostic.some((m) => m.id === manifest.defaultModel));
  });

  for (const entry of agnostic) {
    test(`${entry.id}: a batch of 3 gives exactly the outputs of 3 batch-1 runs`, async () => {
      const model = await loadModel(entry.id, { manifest, verify: false });
      const single = await ort.InferenceSession.create(model.path, { intraOpNumThreads: 1 });
      const dynamic = asDynamicBatch(entry);
      const batched = (await createSession(model.path, dynamic, InferenceConfig.parse({ intraOpThreads: 1 })))
        .session;
      try {
        const per = entry.input.shape.slice(1).reduce((a, b) => a * b, 1);
        const images = [0, 1, 2].map((i) => pixels(per, 7 + i));
        const all = new Float32Array(per * 3);
        for (const [i, img] of images.entries()) all.set(img, i * per);
        const together = await runOne(batched, entry, all, 3);
        for (const [i, img] of images.entries()) {
          const alone = await runOne(single, entry, img, 1);
          for (const name of single.outputNames) {
            const a = alone[name]!;
            const b = together[name]!;
            assert.deepEqual(b.dims, [3, ...a.dims.slice(1)]);
            const size = a.data.length;
            const row = (b.data as Float32Array).subarray(i * size, (i + 1) * size);
            let diff = 0;
            for (let k = 0; k < size; k++)
              diff = Math.max(diff, Math.abs(row[k]! - (a.data as Float32Array)[k]!));
            assert.ok(diff <= 1e-5, `${entry.id} ${name} image ${i}: max difference ${diff}`);
          }
        }
      } finally {
        await single.release();
        await batched.release();
      }
    });
  }

  test('a graph that folds a constant batch of 1 into a reshape (YOLOv8) is not batch-agnostic: batch 2 fails', async () => {
    const entry = findModel(manifest, 'yolov8n_int8');
    assert.notEqual(entry.batchAgnostic, true);
    const model = await loadModel(entry.id, { manifest, verify: false });
    const session = await ort.InferenceSession.create(
      makeBatchDynamic(readFileSync(model.path), entry.input.name),
    );
    try {
      const per = entry.input.shape.slice(1).reduce((a, b) => a * b, 1);
      await assert.rejects(runOne(session, entry, new Float32Array(per * 2), 2), /Reshape/);
    } finally {
      await session.release();
    }
  });

  test('bytes that are not an ONNX model, or a missing input name, get MODEL_INVALID', async () => {
    const model = await loadModel(manifest.defaultModel, { manifest, verify: false });
    const bytes = readFileSync(model.path);
    assert.throws(() => makeBatchDynamic(new Uint8Array([0x0a, 0xff]), 'images'), {
      code: 'MODEL_INVALID',
      message: /not an ONNX model/,
    });
    assert.throws(() => makeBatchDynamic(new Uint8Array(0), 'images'), {
      code: 'MODEL_INVALID',
      message: /no graph/,
    });
    assert.throws(() => makeBatchDynamic(bytes, 'pixels'), {
      code: 'MODEL_INVALID',
      message: /no input named pixels/,
    });
    assert.throws(() => makeBatchDynamic(bytes.subarray(0, bytes.length - 100), 'images'), {
      code: 'MODEL_INVALID',
    });
  });
});

describe('batchedEntry', () => {
  const yolox = findModel(manifest, 'yolox_nano');
  const osnet = findModel(manifest, 'osnet_x0_25_msmt17');

  test('on the CPU a batch-agnostic model runs single images unless the batch size says otherwise', () => {
    assert.equal(batchedEntry(yolox, undefined), yolox);
    assert.equal(batchedEntry(yolox, { providers: ['cpu'] }), yolox);
    assert.equal(batchedEntry(yolox, { batchSize: 1, providers: ['cuda'] }), yolox);
    const batched = batchedEntry(yolox, { batchSize: 8 });
    assert.deepEqual(batched.input.shape, [-1, 3, 416, 416]);
    assert.deepEqual(batched.outputs[0]!.shape, [-1, 3549, 85]);
    assert.ok(needsBatchRewrite(batched));
  });

  test('on a GPU provider it runs batched; models that are dynamic already or not batch-agnostic are kept', () => {
    assert.deepEqual(batchedEntry(yolox, { providers: ['tensorrt', 'cuda', 'cpu'] }).input.shape[0], -1);
    assert.equal(batchedEntry(osnet, { providers: ['cuda'] }), osnet);
    assert.equal(needsBatchRewrite(osnet), false);
  });
});
