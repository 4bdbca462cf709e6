// Golden tests: the classifier and segmentation decoders on the reference images through onnxruntime-node, with
// our own preprocessing, against DATA.md's verified outputs.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import ort from 'onnxruntime-node';
import { hasDjpeg, referenceImage } from '../media/reference-image.ts';
import { loadModel } from '../models/load.ts';
import type { Geometry } from '../preprocess/geometry.ts';
import { preprocessInto } from '../preprocess/preprocess.ts';
import { createClassificationAdapter } from './classifier.ts';
import { classAtSource, classMapToSource, createSegmentationAdapter } from './segmentation.ts';
import type { OutputMap } from './types.ts';

const media = process.env.SIGHTLINE_MEDIA_DIR ?? '';
const djpeg = hasDjpeg;

/** Run `modelId` on `images` as one batch; its outputs, the geometry of each image, and the loaded model. */
async function infer(modelId: string, images: string[]) {
  const model = await loadModel(modelId, { verify: false });
  const session = await ort.InferenceSession.create(model.path, { intraOpNumThreads: 1 });
  try {
    const nhwc = model.entry.preprocess.layout === 'NHWC';
    const [, d1, d2, d3] = model.entry.input.shape as [number, number, number, number];
    const [h, w, c] = nhwc ? [d1, d2, d3] : [d2, d3, d1];
    const size = c * h * w;
    const input = new Float32Array(size * images.length);
    const geometries: Geometry[] = images.map((name, i) =>
      preprocessInto(
        referenceImage(join(media, name)),
        model.entry.preprocess,
        { width: w, height: h },
        input,
        i * size,
      ),
    );
    const dims = nhwc ? [images.length, h, w, c] : [images.length, c, h, w];
    const out = await session.run({ [model.entry.input.name]: new ort.Tensor('float32', input, dims) });
    const outputs: OutputMap = Object.fromEntries(
      Object.entries(out).map(([k, v]) => [k, { data: v.data as Float32Array, dims: v.dims }]),
    );
    return { model, outputs, geometries };
  } finally {
    await session.release();
  }
}

const SCORE_TOL = 0.03;
const AREA_TOL = 0.02;

describe('golden classification and segmentation (DATA.md)', {
  skip: !djpeg && 'djpeg (libjpeg-turbo-progs) not installed: the reference decode is needed',
}, () => {
  const top1 = { 'dog.jpg': ['malamute', 0.8], 'bus.jpg': ['minibus', 0.47] } as const;

  for (const [image, [label, score]] of Object.entries(top1)) {
    test(`mobilenetv2_int8 on ${image}: top-1 ${label} ${score} (±${SCORE_TOL})`, async () => {
      const { model, outputs } = await infer('mobilenetv2_int8', [image]);
      const got = createClassificationAdapter(model.entry, model.labels).decode(outputs, 0);
      const what = got.map((c) => `${c.label} ${c.score.toFixed(3)}`).join(', ');
      assert.equal(got.length, 5, `default top-5: ${what}`);
      assert.equal(got[0]!.label, label, what);
      assert.ok(Math.abs(got[0]!.score - score) <= SCORE_TOL, `${image}: ${what} vs ${label} ${score}`);
      for (let i = 1; i < got.length; i++)
        assert.ok(got[i]!.score <= got[i - 1]!.score, `best first: ${what}`);
    });
  }

  test('mobilenetv2_int8 on [dog.jpg, bus.jpg] as one batch: row i is image i', async () => {
    const { model, outputs } = await infer('mobilenetv2_int8', ['dog.jpg', 'bus.jpg']);
    const adapter = createClassificationAdapter(model.entry, model.labels);
    // Dynamic INT8 quantizes activations with one scale for the whole batch tensor, so a batch of two scores
    // differently from two batches of one (measured: malamute 0.744, minibus 0.447): the labels hold, scores ±0.08.
    ['dog.jpg', 'bus.jpg'].forEach((image, i) => {
      const [label, score] = top1[image as keyof typeof top1];
      const [best] = adapter.decode(outputs, i, { topK: 1 });
      assert.equal(best!.label, label, `row ${i}`);
      assert.ok(Math.abs(best!.score - score) <= 0.08, `row ${i}: ${best!.label} ${best!.score}`);
    });
    assert.throws(() => adapter.decode(outputs, 2), RangeError);
  });

  const areas = {
    'bus.jpg': { background: 0.58, bus: 0.28, person: 0.13 },
    'dog.jpg': { background: 0.86, bicycle: 0.07, dog: 0.06 },
  } as const;

  for (const [image, want] of Object.entries(areas)) {
    const text = Object.entries(want)
      .map(([k, v]) => `${k} ${Math.round(v * 100)} %`)
      .join(', ');
    test(`deeplabv3_mnv2_pascal_257 on ${image}: ${text} (±${AREA_TOL * 100} pp)`, async () => {
      const { model, outputs, geometries } = await infer('deeplabv3_mnv2_pascal_257', [image]);
      const r = createSegmentationAdapter(model.entry, model.labels).decode(outputs, 0, geometries[0]!);
      const what = r.classes.map((c) => `${c.label} ${(c.fraction * 100).toFixed(1)} %`).join(', ');
      assert.equal(r.width, 257);
      assert.equal(r.height, 257);
      assert.deepEqual(r.region, { x: 0, y: 0, width: 257, height: 257 }, 'stretch: the whole map is image');
      assert.deepEqual(
        r.classes.slice(0, 3).map((c) => c.label),
        Object.keys(want),
        `largest three: ${what}`,
      );
      for (const [label, fraction] of Object.entries(want)) {
        const got = r.classes.find((c) => c.label === label)!;
        assert.ok(Math.abs(got.fraction - fraction) <= AREA_TOL, `${image} ${label}: ${what}`);
      }
      const sum = r.classes.reduce((a, c) => a + c.fraction, 0);
      assert.ok(Math.abs(sum - 1) < 1e-9, `fractions sum to 1 (${sum})`);
      // Back in the source frame the shares stay (nearest resampling of a stretched map).
      const g = r.geometry;
      const frame = classMapToSource(r);
      assert.equal(frame.length, g.sourceWidth * g.sourceHeight);
      for (const c of r.classes.slice(0, 3)) {
        const n = frame.reduce((a, v) => (v === c.classId ? a + 1 : a), 0);
        assert.ok(Math.abs(n / frame.length - c.fraction) < 0.01, `${c.label} in the source frame`);
      }
      assert.equal(classAtSource(r, g.sourceWidth - 1, g.sourceHeight - 1), frame[frame.length - 1]);
    });
  }
});
