// Re-ID embeddings on real people: the DATA.md protocol (vtest.avi, frame t vs t+3, crops taller than 60 px,
// identities paired by IoU > 0.6) for both re-ID models, plus the runner's contract.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Detection, InferenceConfig } from '@sightline/shared';
import type { DecodedFrame, ImageBuffer } from '../frame.ts';
import { loadModel } from '../models/load.ts';
import { cropImage } from '../preprocess/crop.ts';
import { StreamSource } from '../sources/stream-source.ts';
import { iou } from '../tracking/iou.ts';
import { EmbeddingRunner } from './embedding-runner.ts';
import { SessionRunner } from './session-runner.ts';

const mediaDir = process.env.SIGHTLINE_MEDIA_DIR;
const skip = !mediaDir && 'SIGHTLINE_MEDIA_DIR not set';
const config = InferenceConfig.parse({});
/** Frame pairs (t, t + 3) spread over the clip. */
const FIRST_FRAMES = Array.from({ length: 26 }, (_, i) => 10 + 30 * i);

/** Full-resolution frames of vtest.avi at the given indices. */
async function grabFrames(indices: readonly number[]): Promise<Map<number, DecodedFrame>> {
  const want = new Set(indices);
  const last = Math.max(...indices);
  const source = new StreamSource({
    streamId: 'vtest',
    url: join(mediaDir as string, 'vtest.avi'),
    realtime: false,
  });
  const frames = new Map<number, DecodedFrame>();
  await new Promise<void>((resolve, reject) => {
    source.on('frame', (f) => {
      if (want.has(f.seq)) frames.set(f.seq, { ...f, data: f.data.slice() });
      source.release();
      if (f.seq >= last) resolve();
    });
    source.on('state', (state, err) => {
      if (state === 'failed') reject(err);
      if (state === 'ended') resolve();
    });
    source.start();
  });
  await source.close();
  return frames;
}

interface Pair {
  a: Float32Array;
  b: Float32Array;
  same: boolean;
}

const cosine = (a: Float32Array, b: Float32Array): number => a.reduce((s, v, i) => s + v * b[i]!, 0);
const mean = (xs: number[]): number => xs.reduce((s, v) => s + v, 0) / xs.length;

describe('re-ID embeddings on vtest.avi', { skip }, () => {
  let people: { t: number; dets: Detection[]; crops: ImageBuffer[] }[] = [];

  before(async () => {
    const indices = FIRST_FRAMES.flatMap((t) => [t, t + 3]);
    const frames = await grabFrames(indices);
    const model = await loadModel('yolox_nano', { verify: false });
    const detector = await SessionRunner.create({
      index: 0,
      modelPath: model.path,
      entry: model.entry,
      labels: model.labels,
      config,
      maxBatch: 1,
    });
    try {
      for (const t of indices) {
        const f = frames.get(t);
        assert.ok(f, `frame ${t} decoded`);
        const [r] = await detector.run([f], { confidence: 0.5, iou: 0.45, classes: ['person'] });
        const dets = r!.detections.filter((d) => d.box[3] - d.box[1] > 60);
        people.push({ t, dets, crops: dets.map((d) => cropImage(f, d.box)!) });
      }
    } finally {
      await detector.close();
    }
  });
  after(() => {
    people = [];
  });

  /** Same-person pairs (IoU > 0.6 between t and t+3, one partner only) and different-person pairs. */
  async function pairs(modelId: string): Promise<Pair[]> {
    const model = await loadModel(modelId, { verify: false });
    const runner = await EmbeddingRunner.create({ modelPath: model.path, entry: model.entry, config });
    try {
      const out: Pair[] = [];
      for (let i = 0; i < people.length; i += 2) {
        const p = people[i]!;
        const q = people[i + 1]!;
        const ea = (await runner.run(p.crops)).embeddings;
        const eb = (await runner.run(q.crops)).embeddings;
        p.dets.forEach((d, a) => {
          const overlaps = q.dets.map((e) => iou(d.box, e.box));
          const partners = overlaps.filter((v) => v > 0.6).length;
          q.dets.forEach((_, b) => {
            if (overlaps[b]! > 0.6 && partners === 1) out.push({ a: ea[a]!, b: eb[b]!, same: true });
            else if (overlaps[b]! < 0.1) out.push({ a: ea[a]!, b: eb[b]!, same: false });
          });
        });
      }
      return out;
    } finally {
      await runner.close();
    }
  }

  for (const [modelId, minMargin] of [
    ['osnet_x0_25_msmt17', 0.3],
    ['person_reid_retail_0288', 0.1],
  ] as const) {
    test(`${modelId}: the same person is clearly more similar than different people`, async (t) => {
      const all = await pairs(modelId);
      const same = all.filter((p) => p.same).map((p) => cosine(p.a, p.b));
      const diff = all.filter((p) => !p.same).map((p) => cosine(p.a, p.b));
      t.diagnostic(
        `${same.length} same-person pairs mean cosine ${mean(same).toFixed(3)}, ${diff.length} different-person pairs mean ${mean(diff).toFixed(3)}`,
      );
      assert.ok(same.length >= 25, `enough same-person pairs: ${same.length}`);
      assert.ok(diff.length >= 50, `enough different-person pairs: ${diff.length}`);
      assert.ok(mean(same) - mean(diff) >= minMargin, `margin ${mean(same) - mean(diff)} >= ${minMargin}`);
      // Nearest neighbour: each same-person query's partner beats every different person in the other frame.
      let correct = 0;
      const queries = all.filter((p) => p.same);
      for (const q of queries) {
        const rivals = all.filter((p) => !p.same && p.a === q.a).map((p) => cosine(p.a, p.b));
        if (rivals.every((r) => r < cosine(q.a, q.b))) correct++;
      }
      t.diagnostic(`nearest-neighbour retrieval ${correct}/${queries.length}`);
      assert.ok(correct >= 0.9 * queries.length, `retrieval ${correct}/${queries.length}`);
    });
  }
});

describe('EmbeddingRunner', { skip }, () => {
  test('returns one unit-length embedding per crop in order, batched beyond the batch size', async () => {
    const model = await loadModel('osnet_x0_25_msmt17', { verify: false });
    const runner = await EmbeddingRunner.create({
      modelPath: model.path,
      entry: model.entry,
      config,
      maxBatch: 4,
    });
    try {
      assert.equal(runner.dimensions, 512);
      const crops: ImageBuffer[] = Array.from({ length: 6 }, (_, i) => {
        const data = new Uint8Array(40 * 100 * 3);
        for (let k = 0; k < data.length; k++) data[k] = (k * (i + 3)) % 251;
        return { data, width: 40, height: 100 };
      });
      const { embeddings } = await runner.run(crops);
      assert.equal(embeddings.length, 6);
      for (const e of embeddings) assert.ok(Math.abs(cosine(e, e) - 1) < 1e-4);
      // Batching must not change results: crop 5 alone equals crop 5 in the batch.
      const alone = (await runner.run([crops[5]!])).embeddings[0]!;
      assert.ok(cosine(alone, embeddings[5]!) > 0.9999);
      assert.ok(cosine(embeddings[0]!, embeddings[5]!) < 0.9999, 'different crops differ');
    } finally {
      await runner.close();
    }
  });

  test('refuses a model that is not a re-ID model', async () => {
    const model = await loadModel('yolox_nano', { verify: false });
    await assert.rejects(
      EmbeddingRunner.create({ modelPath: model.path, entry: model.entry, config }),
      /yolox_nano is a detection model .* not a re-ID embedding model/,
    );
  });
});
