// The InferencePool running the stage models: mobilenetv2_int8 classify() and deeplabv3 segment() (static batch and
// made dynamic) on the reference images against DATA.md, wrong calls and malformed images refused without harm to
// the pool, and close() rejecting what is pending.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { ClosedError } from '@sightline/shared';
import type { ImageBuffer } from '../frame.ts';
import { hasDjpeg, referenceImage } from '../media/reference-image.ts';
import { type LoadedModel, loadModel } from '../models/load.ts';
import { loadManifest } from '../models/manifest.ts';
import { asDynamicBatch } from './dynamic-batch.ts';
import { InferencePool, poolMethod, type SegmentResult } from './inference-pool.ts';

const media = process.env.SIGHTLINE_MEDIA_DIR ?? '';
const djpeg = hasDjpeg;

// A batch of two moves the INT8 model's scores (one activation scale per batch tensor; golden-stages.test.ts):
// ±0.08 in a batch, ±0.03 alone. Areas ±3 points. Our own decode (no djpeg) adds a little to each.
const SCORE_TOL = djpeg ? 0.08 : 0.1;
const SCORE_TOL_ALONE = djpeg ? 0.03 : 0.05;
const AREA_TOL = djpeg ? 0.03 : 0.04;
const TOP1 = { dog: ['malamute', 0.8], bus: ['minibus', 0.47] } as const;
const AREAS = {
  bus: { background: 0.58, bus: 0.28, person: 0.13 },
  dog: { background: 0.86, bicycle: 0.07, dog: 0.06 },
} as const;

let images: { dog: ImageBuffer; bus: ImageBuffer };
let classifier: LoadedModel;
let deeplab: LoadedModel;

before(async () => {
  images = { dog: referenceImage(join(media, 'dog.jpg')), bus: referenceImage(join(media, 'bus.jpg')) };
  classifier = await loadModel('mobilenetv2_int8', { verify: false });
  deeplab = await loadModel('deeplabv3_mnv2_pascal_257', { verify: false });
});

/** A fresh copy of a reference image (classify() and segment() transfer the buffer). */
function image(name: 'dog' | 'bus'): ImageBuffer {
  const i = images[name];
  return { data: i.data.slice(), width: i.width, height: i.height };
}

function poolOf(model: LoadedModel, batchSize: number, entry = model.entry): Promise<InferencePool> {
  return InferencePool.create({
    model: entry,
    modelPath: model.path,
    labels: model.labels,
    inference: { sessions: 1, intraOpThreads: 1, batchSize },
  });
}

function checkAreas(r: SegmentResult, name: 'bus' | 'dog', source: ImageBuffer): string {
  const want = AREAS[name];
  const what = r.classes.map((c) => `${c.label} ${(c.fraction * 100).toFixed(1)} %`).join(', ');
  assert.equal(r.width, 257);
  assert.equal(r.height, 257);
  assert.equal(r.classMap.length, 257 * 257);
  assert.deepEqual(r.region, { x: 0, y: 0, width: 257, height: 257 }, 'stretch: the whole map is image');
  assert.equal(r.geometry.sourceWidth, source.width);
  assert.equal(r.geometry.sourceHeight, source.height);
  assert.deepEqual(
    r.classes.slice(0, 3).map((c) => c.label),
    Object.keys(want),
    `${name}: largest three: ${what}`,
  );
  for (const [label, fraction] of Object.entries(want)) {
    const got = r.classes.find((c) => c.label === label)!;
    assert.ok(Math.abs(got.fraction - fraction) <= AREA_TOL, `${name} ${label}: ${what}`);
  }
  const counted = r.classMap.reduce((a, v) => (v === r.classes[0]!.classId ? a + 1 : a), 0);
  assert.ok(Math.abs(counted / r.classMap.length - r.classes[0]!.fraction) < 1e-9, 'the map holds the areas');
  assert.ok(r.inferMs > 0 && r.preprocessMs > 0 && r.postprocessMs >= 0);
  return `${name}: ${what}`;
}

describe('InferencePool with stage models (cpu)', () => {
  test('the call each model answers goes by task, and by adapter for segmentation', async () => {
    const manifest = await loadManifest();
    const method = Object.fromEntries(manifest.models.map((m) => [m.id, poolMethod(m)]));
    assert.equal(method.mobilenetv2_int8, 'classify');
    assert.equal(method.deeplabv3_mnv2_pascal_257, 'segment');
    assert.equal(method.yolov8n_seg_int8_320, 'infer', 'instance segmentation is detection with masks');
    assert.equal(method.yolox_nano, 'infer');
    assert.equal(method.osnet_x0_25_msmt17, 'embed');
  });

  test('mobilenetv2_int8 classifies dog.jpg and bus.jpg in one call; chunks past maxBatch; refuses bad calls', async (t) => {
    const pool = await poolOf(classifier, 2);
    let closed = false;
    try {
      assert.equal(pool.maxBatch, 2);
      assert.deepEqual(pool.inputSize, { width: 224, height: 224 });
      const dog = image('dog');
      const r = await pool.classify([dog, image('bus')]);
      assert.equal(dog.data.byteLength, 0, 'pixels were transferred, not copied');
      assert.equal(r.labels.length, 2);
      const seen: string[] = [];
      (['dog', 'bus'] as const).forEach((name, i) => {
        const got = r.labels[i]!;
        const [label, score] = TOP1[name];
        const what = got.map((c) => `${c.label} ${c.score.toFixed(3)}`).join(', ');
        seen.push(`${name}: ${what}`);
        assert.equal(got.length, 5, `default top-5: ${what}`);
        assert.equal(got[0]!.label, label, what);
        assert.ok(Math.abs(got[0]!.score - score) <= SCORE_TOL, `${name}: ${what} vs ${label} ${score}`);
        for (let k = 1; k < got.length; k++)
          assert.ok(got[k]!.score <= got[k - 1]!.score, `best first: ${what}`);
      });
      assert.ok(r.preprocessMs > 0 && r.inferMs > 0);
      t.diagnostic(`batch of 2 (${djpeg ? 'djpeg' : 'own'} decode): ${seen.join('; ')}`);

      // Three images with maxBatch 2: runs [dog, bus] then [dog]; the last runs alone, so at DATA.md's score.
      const three = await pool.classify([image('dog'), image('bus'), image('dog')], { topK: 1 });
      assert.deepEqual(
        three.labels.map((l) => l.map((c) => c.label)),
        [['malamute'], ['minibus'], ['malamute']],
      );
      const alone = three.labels[2]![0]!.score;
      assert.ok(Math.abs(alone - 0.8) <= SCORE_TOL_ALONE, `dog alone: malamute ${alone}`);
      assert.ok(
        Math.abs(three.labels[0]![0]!.score - r.labels[0]![0]!.score) < 1e-6,
        'same batch, same score',
      );
      t.diagnostic(`dog alone: malamute ${alone.toFixed(3)}`);

      // Wrong calls for a classifier, naming the model and its task.
      await assert.rejects(
        pool.infer([
          {
            ...image('bus'),
            streamId: 'c',
            seq: 0,
            pts: 0,
            capturedAt: 0,
            decodeMs: 0,
            sourceWidth: 810,
            sourceHeight: 1080,
          },
        ]),
        {
          name: 'TypeError',
          message: /mobilenetv2_int8 is not a detection model \(task classification.*use classify\(\)/,
        },
      );
      await assert.rejects(
        pool.segment([image('bus')]),
        /mobilenetv2_int8 is not a semantic-segmentation model \(task classification/,
      );
      await assert.rejects(
        pool.embed([image('bus')]),
        /mobilenetv2_int8 is not a re-ID model \(task classification/,
      );

      // Malformed images and options are refused before they reach a worker; the caller keeps its buffer.
      const short = { data: new Uint8Array(10 * 10 * 3 - 1), width: 10, height: 10 };
      await assert.rejects(pool.classify([image('dog'), short]), {
        name: 'RangeError',
        message: /Expected 300 bytes of packed BGR24 for image 1 \(10x10\) in classify\(\) but received 299/,
      });
      await assert.rejects(pool.classify([{ data: new Uint8Array(0), width: 0, height: 0 }]), {
        name: 'RangeError',
        message: /positive integer for image 0's width/,
      });
      await assert.rejects(pool.classify([{ data: [1, 2, 3] as never, width: 1, height: 1 }]), TypeError);
      await assert.rejects(pool.classify([]), /Expected at least 1 image for classify\(\)/);
      const kept = image('dog');
      await assert.rejects(pool.classify([kept], { topK: 0 }), /positive integer for topK/);
      assert.equal(kept.data.byteLength, images.dog.data.byteLength, 'a refused call transfers nothing');
      const [best] = (await pool.classify([kept], { topK: 1 })).labels;
      assert.equal(best![0]!.label, 'malamute', 'the pool still works');

      // close() rejects what is running and what is queued (1 session x 2 in flight, then the queue).
      const pending = [1, 2, 3].map(() => pool.classify([image('bus')]));
      const outcomes = Promise.allSettled(pending);
      assert.equal(pool.freeSlots, 0);
      await pool.close();
      closed = true;
      for (const o of await outcomes) assert.ok(o.status === 'rejected' && o.reason instanceof ClosedError);
      await assert.rejects(pool.classify([image('bus')]), ClosedError);
    } finally {
      if (!closed) await pool.close();
    }
  });

  test('deeplabv3 (static batch 1) segments bus.jpg and dog.jpg with DATA.md areas; refuses bad calls', async (t) => {
    const pool = await poolOf(deeplab, 4);
    let closed = false;
    try {
      assert.equal(pool.maxBatch, 1, 'a static-batch model runs one frame per model call');
      const bus = image('bus');
      const [one] = await pool.segment([bus]);
      assert.equal(bus.data.byteLength, 0, 'pixels were transferred, not copied');
      const seen = [checkAreas(one!, 'bus', images.bus)];
      // Two frames in one call: two model runs.
      const two = await pool.segment([image('dog'), image('bus')]);
      assert.equal(two.length, 2);
      seen.push(checkAreas(two[0]!, 'dog', images.dog));
      checkAreas(two[1]!, 'bus', images.bus);
      assert.deepEqual(two[1]!.classMap, one!.classMap, 'the same frame gives the same map');
      t.diagnostic(`static (${djpeg ? 'djpeg' : 'own'} decode): ${seen.join('; ')}`);

      // A frame that stands for a larger source reports its geometry in source pixels.
      const [scaled] = await pool.segment([
        { ...image('bus'), sourceWidth: 1620, sourceHeight: 2160 } as ImageBuffer,
      ]);
      assert.equal(scaled!.geometry.sourceWidth, 1620);
      assert.equal(scaled!.geometry.sourceHeight, 2160);

      await assert.rejects(pool.classify([image('bus')]), {
        name: 'TypeError',
        message:
          /deeplabv3_mnv2_pascal_257 is not a classification model \(task segmentation, adapter deeplab\); use segment\(\)/,
      });
      await assert.rejects(
        pool.segment([{ data: new Uint8Array(12), width: 2, height: 3 }]),
        /Expected 18 bytes of packed BGR24 for image 0 \(2x3\) in segment\(\) but received 12/,
      );
      await assert.rejects(pool.segment([{ data: new Uint8Array(0), width: 0, height: 5 }]), RangeError);
      const [again] = await pool.segment([image('dog')]);
      checkAreas(again!, 'dog', images.dog);

      const outcomes = Promise.allSettled([1, 2, 3].map(() => pool.segment([image('dog')])));
      await pool.close();
      closed = true;
      for (const o of await outcomes) assert.ok(o.status === 'rejected' && o.reason instanceof ClosedError);
    } finally {
      if (!closed) await pool.close();
    }
  });

  test('deeplabv3 made dynamic-batch (asDynamicBatch, batchSize 2) segments [bus, dog, bus] in one call', async (t) => {
    const entry = asDynamicBatch(deeplab.entry);
    const pool = await poolOf(deeplab, 2, entry);
    try {
      assert.equal(pool.maxBatch, 2);
      const r = await pool.segment([image('bus'), image('dog'), image('bus')]);
      assert.equal(r.length, 3);
      const seen = [checkAreas(r[0]!, 'bus', images.bus), checkAreas(r[1]!, 'dog', images.dog)];
      checkAreas(r[2]!, 'bus', images.bus);
      // The batch of two and the run of one agree (a batch-agnostic graph: the same logits within 1e-5).
      r[0]!.classes.forEach((c, i) => {
        assert.equal(r[2]!.classes[i]!.classId, c.classId);
        assert.ok(Math.abs(r[2]!.classes[i]!.fraction - c.fraction) < 1e-3);
      });
      t.diagnostic(`dynamic batch 2: ${seen.join('; ')}`);
    } finally {
      await pool.close();
    }
  });

  test('a detector pool refuses classify() and segment(), naming the model and its task', async () => {
    const model = await loadModel('yolox_nano', { verify: false });
    const pool = await poolOf(model, 1);
    try {
      await assert.rejects(pool.classify([image('bus')]), {
        name: 'TypeError',
        message: /yolox_nano is not a classification model \(task detection, adapter yolox\); use infer\(\)/,
      });
      await assert.rejects(
        pool.segment([image('bus')]),
        /yolox_nano is not a semantic-segmentation model \(task detection/,
      );
      await assert.rejects(pool.embed([image('bus')]), /yolox_nano is not a re-ID model/);
    } finally {
      await pool.close();
    }
  });
});
