import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ModelError } from '@sightline/shared';
import ort from 'onnxruntime-node';
import {
  catalogue,
  defaultManifestPath,
  findMedia,
  findModel,
  itemsForModel,
  loadManifest,
  mediaDir,
  modelsDir,
  parseManifest,
  resolveLabels,
  selectItems,
} from './manifest.ts';

const MODELS = process.env.MODELS_DIR;
const MEDIA = process.env.SIGHTLINE_MEDIA_DIR;

function requireDirs(): { models: string; media: string } {
  assert.ok(
    MODELS && MEDIA,
    'MODELS_DIR and SIGHTLINE_MEDIA_DIR must be set (run through scripts/run-tests.mjs)',
  );
  return { models: MODELS, media: MEDIA };
}

async function sha256(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/** The real manifest as plain JSON, for tests that break one field. */
async function rawManifest(): Promise<Record<string, unknown> & { models: Record<string, unknown>[] }> {
  return JSON.parse(await readFile(defaultManifestPath, 'utf8'));
}

function rejectsWith(text: string, code: string, pattern: RegExp): void {
  assert.throws(
    () => parseManifest(text, 'test-manifest.json'),
    (err: unknown) => {
      assert.ok(err instanceof ModelError, `expected a ModelError, got ${String(err)}`);
      assert.equal(err.code, code);
      assert.match(err.message, /test-manifest\.json/);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

describe('models/manifest.json', () => {
  test('validates and lists every model, the label file and the sample media', async () => {
    const manifest = await loadManifest();
    assert.deepEqual(manifest.models.map((m) => m.id).sort(), [
      'deeplabv3_mnv2_pascal_257',
      'mobilenetv2_int8',
      'osnet_x0_25_msmt17',
      'person_reid_retail_0288',
      'super_resolution',
      'yolov8n_int8',
      'yolov8n_seg_int8_320',
      'yolox_nano',
    ]);
    assert.equal(manifest.defaultModel, 'yolox_nano');
    assert.equal(findMedia(manifest, manifest.defaultMedia).file, 'vtest.avi');
    assert.deepEqual(manifest.demoMedia, ['vtest', 'one-by-one-person-detection']);
    assert.equal(manifest.demoReidModel, 'osnet_x0_25_msmt17');
    assert.ok(manifest.files.some((f) => f.file === 'imagenet_classes.txt'));
    assert.ok(manifest.media.some((f) => f.file === 'one-by-one-person-detection.mp4'));
    for (const entry of [...manifest.models, ...manifest.files, ...manifest.media]) {
      assert.match(entry.url, /^https:\/\/raw\.githubusercontent\.com\/[^/]+\/[^/]+\/[^/]+\//, entry.id);
    }
  });

  test('model URLs are pinned to a commit', async () => {
    const manifest = await loadManifest();
    for (const entry of [...manifest.models, ...manifest.files]) {
      assert.match(
        entry.url,
        /^https:\/\/raw\.githubusercontent\.com\/[^/]+\/[^/]+\/[0-9a-f]{40}\//,
        entry.id,
      );
    }
  });

  test('every entry matches its file in MODELS_DIR / SIGHTLINE_MEDIA_DIR by size and sha256', async () => {
    const dirs = requireDirs();
    const manifest = await loadManifest();
    const items = catalogue(manifest, { modelsDir: dirs.models, mediaDir: dirs.media });
    assert.equal(items.length, manifest.models.length + manifest.files.length + manifest.media.length);
    for (const { entry, path } of items) {
      assert.equal((await stat(path)).size, entry.bytes, `${entry.id} size`);
      assert.equal(await sha256(path), entry.sha256, `${entry.id} sha256`);
    }
  });

  test('ONNX input and output names and shapes match what onnxruntime reports', async () => {
    const dirs = requireDirs();
    const manifest = await loadManifest();
    const dims = (shape: readonly (number | string)[]) => shape.map((d) => (typeof d === 'number' ? d : -1));
    for (const model of manifest.models) {
      const session = await ort.InferenceSession.create(join(dirs.models, model.file));
      try {
        assert.deepEqual([...session.inputNames], [model.input.name], `${model.id} input name`);
        const input = session.inputMetadata[0]!;
        assert.ok(input.isTensor);
        assert.equal(input.type, 'float32', `${model.id} input type`);
        assert.deepEqual(dims(input.shape), model.input.shape, `${model.id} input shape`);
        assert.deepEqual(
          [...session.outputNames],
          model.outputs.map((o) => o.name),
          `${model.id} output names`,
        );
        session.outputMetadata.forEach((meta, i) => {
          assert.ok(meta.isTensor);
          assert.deepEqual(dims(meta.shape), model.outputs[i]!.shape, `${model.id} output ${i} shape`);
        });
        const dynamic = model.input.shape[0] === -1;
        assert.equal(model.maxBatch > 1, dynamic, `${model.id} maxBatch ${model.maxBatch} vs batch dim`);
        const channels = model.preprocess.layout === 'NCHW' ? model.input.shape[1] : model.input.shape[3];
        assert.equal(channels, model.preprocess.colour === 'Y' ? 1 : 3, `${model.id} channels vs colour`);
      } finally {
        await session.release();
      }
    }
  });

  test('labels resolve: coco80 for yolox, voc21 for deeplab, 1000 file labels for mobilenet', async () => {
    const dirs = requireDirs();
    const manifest = await loadManifest();
    const at = { modelsDir: dirs.models };
    assert.equal((await resolveLabels(manifest, findModel(manifest, 'yolox_nano'), at))?.[0], 'person');
    assert.equal(
      (await resolveLabels(manifest, findModel(manifest, 'deeplabv3_mnv2_pascal_257'), at))?.[15],
      'person',
    );
    const imagenet = await resolveLabels(manifest, findModel(manifest, 'mobilenetv2_int8'), at);
    assert.equal(imagenet?.length, 1000);
    assert.equal(await resolveLabels(manifest, findModel(manifest, 'osnet_x0_25_msmt17'), at), undefined);
    assert.deepEqual(
      itemsForModel(manifest, 'mobilenetv2_int8', at).map((i) => i.entry.id),
      ['mobilenetv2_int8', 'imagenet_classes'],
    );
  });
});

describe('lookups and directories', () => {
  test('findModel on an unknown id is MODEL_UNKNOWN listing the known ids', async () => {
    const manifest = await loadManifest();
    assert.throws(
      () => findModel(manifest, 'yolo9000'),
      (err: unknown) => {
        assert.ok(err instanceof ModelError);
        assert.equal(err.code, 'MODEL_UNKNOWN');
        assert.match(err.message, /"yolo9000"/);
        assert.match(err.message, /yolox_nano, .*deeplabv3_mnv2_pascal_257/);
        return true;
      },
    );
    assert.throws(() => findMedia(manifest, 'yolox_nano'), /Unknown media "yolox_nano"; known: vtest/);
    assert.throws(() => selectItems(manifest, ['vtest', 'a', 'b']), /Unknown ids "a", "b"/);
  });

  test('modelsDir and mediaDir follow the environment, else <repo>/models|media/cache', () => {
    assert.equal(modelsDir({ MODELS_DIR: '/x/models' }), '/x/models');
    assert.equal(mediaDir({ SIGHTLINE_MEDIA_DIR: '/y/media' }), '/y/media');
    const root = defaultManifestPath.replace(/models[\\/]manifest\.json$/, '');
    assert.equal(modelsDir({}), join(root, 'models', 'cache'));
    assert.equal(mediaDir({}), join(root, 'media', 'cache'));
  });
});

describe('malformed manifests', () => {
  test('rejects text that is not JSON', () => {
    rejectsWith('{"version": 1,', 'MODEL_INVALID', /not JSON/);
  });

  test('rejects a bad sha256 naming the field path', async () => {
    const raw = await rawManifest();
    raw.models[1]!.sha256 = 'D39BEE';
    rejectsWith(
      JSON.stringify(raw),
      'MODEL_INVALID',
      /models\[1\]\.sha256: expected 64 lowercase hex characters/,
    );
  });

  test('rejects a missing field naming the field path', async () => {
    const raw = await rawManifest();
    delete raw.models[0]!.bytes;
    rejectsWith(JSON.stringify(raw), 'MODEL_INVALID', /models\[0\]\.bytes:/);
  });

  test('rejects a bad nested value and an unknown key', async () => {
    const raw = await rawManifest();
    (raw.models[2]!.preprocess as Record<string, unknown>).layout = 'CHW';
    raw.models[3]!.colour = 'RGB';
    rejectsWith(
      JSON.stringify(raw),
      'MODEL_INVALID',
      /models\[2\]\.preprocess\.layout:[\s\S]*models\[3\]: .*colour/,
    );
  });

  test('rejects demo media and a demo re-ID model the catalogue does not hold', async () => {
    const raw = await rawManifest();
    raw.demoMedia = ['vtest', 'nope'];
    raw.demoReidModel = 'yolox_nano';
    rejectsWith(
      JSON.stringify(raw),
      'MODEL_INVALID',
      /demoMedia\[1\]: "nope" is not a media id[\s\S]*demoReidModel: "yolox_nano" is not a re-ID model id/,
    );
  });

  test('rejects duplicate ids, a dangling defaultModel and unknown labels', async () => {
    const raw = await rawManifest();
    raw.models[1]!.id = 'yolox_nano';
    raw.defaultModel = 'nope';
    raw.models[2]!.labels = 'coco81';
    rejectsWith(
      JSON.stringify(raw),
      'MODEL_INVALID',
      /models\[1\]\.id: duplicate id "yolox_nano"[\s\S]*defaultModel: "nope" is not a model id[\s\S]*models\[2\]\.labels: "coco81"/,
    );
  });

  test('loadManifest on a missing file names the path', async () => {
    await assert.rejects(
      loadManifest('/nonexistent/manifest.json'),
      /Cannot read model manifest \/nonexistent\/manifest\.json/,
    );
  });
});
