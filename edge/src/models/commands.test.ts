import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { type Manifest, ModelError } from '@sightline/shared';
import { fetchModels, listModels, verifyModels } from './commands.ts';
import { ensureDemoAssets } from './demo-assets.ts';
import { loadModel } from './load.ts';
import { defaultManifestPath, loadManifest, parseManifest } from './manifest.ts';

const MODELS = process.env.MODELS_DIR;
const MEDIA = process.env.SIGHTLINE_MEDIA_DIR;

function output(): { out: PassThrough; text: () => string } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => {
    text += c.toString();
  });
  return { out, text: () => text };
}

describe('models commands on the shared files', () => {
  before(() => assert.ok(MODELS && MEDIA, 'MODELS_DIR and SIGHTLINE_MEDIA_DIR must be set'));

  test('listModels prints a table with every id and a verified status', async () => {
    const { out, text } = output();
    const rows = await listModels({ out, modelsDir: MODELS, mediaDir: MEDIA });
    const manifest = await loadManifest();
    assert.equal(rows.length, manifest.models.length + manifest.files.length + manifest.media.length);
    assert.ok(
      rows.every((r) => r.status === 'verified'),
      JSON.stringify(rows.filter((r) => r.status !== 'verified')),
    );
    const lines = text().split('\n');
    assert.match(lines[0]!, /^ID\s+TASK\s+FILE\s+SIZE\s+LICENCE\s+STATUS$/);
    assert.match(
      text(),
      /^yolox_nano\*\s+detection\s+yolox_nano\.onnx\s+3\.5 MiB\s+Apache-2\.0\s+verified$/m,
    );
    assert.match(text(), /^imagenet_classes\s+labels\s+imagenet_classes\.txt/m);
    assert.match(text(), /^vtest\*\s+media\s+vtest\.avi/m);
  });

  test('listModels --json reports missing files in an empty directory', async () => {
    const { out, text } = output();
    const dir = await mkdtemp(join(tmpdir(), 'list-'));
    try {
      await listModels({ out, json: true, modelsDir: dir, mediaDir: MEDIA });
      const rows = JSON.parse(text()) as { id: string; kind: string; status: string; message?: string }[];
      const yolox = rows.find((r) => r.id === 'yolox_nano');
      assert.equal(yolox?.status, 'missing');
      assert.match(yolox?.message ?? '', /sightline models fetch yolox_nano/);
      assert.ok(rows.filter((r) => r.kind === 'media').every((r) => r.status === 'verified'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('verifyModels passes on the shared files and counts failures elsewhere', async () => {
    const ok = output();
    const good = await verifyModels({ out: ok.out, modelsDir: MODELS, mediaDir: MEDIA, media: true });
    assert.equal(good.failures, 0);
    assert.match(ok.text(), /All 13 file\(s\) verified\./);

    const dir = await mkdtemp(join(tmpdir(), 'verify-cmd-'));
    try {
      await writeFile(join(dir, 'yolox_nano.onnx'), 'not a model');
      const bad = output();
      const result = await verifyModels({
        out: bad.out,
        modelsDir: dir,
        ids: ['yolox_nano', 'super_resolution'],
      });
      assert.equal(result.failures, 2);
      assert.deepEqual(
        result.results.map((r) => r.status),
        ['corrupt', 'missing'],
      );
      assert.match(bad.text(), /^CORRUPT\s+yolox_nano .*expected d39bee/m);
      assert.match(bad.text(), /^MISSING\s+super_resolution .*does not exist/m);
      assert.match(bad.text(), /2 of 2 file\(s\) failed verification/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('verifyModels json: one JSON object with every row and the failure count, and no text lines', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'verify-json-'));
    try {
      await writeFile(join(dir, 'yolox_nano.onnx'), 'not a model');
      const { out, text } = output();
      const result = await verifyModels({
        out,
        json: true,
        modelsDir: dir,
        ids: ['yolox_nano', 'super_resolution'],
      });
      const printed = JSON.parse(text()) as { results: { id: string; status: string }[]; failures: number };
      assert.deepEqual(printed, JSON.parse(JSON.stringify(result)));
      assert.equal(printed.failures, 2);
      assert.deepEqual(
        printed.results.map((r) => [r.id, r.status]),
        [
          ['yolox_nano', 'corrupt'],
          ['super_resolution', 'missing'],
        ],
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('unknown ids fail before anything runs', async () => {
    const { out } = output();
    await assert.rejects(verifyModels({ out, ids: ['yolox_nano', 'nope'] }), (err: unknown) => {
      assert.ok(err instanceof ModelError);
      assert.equal(err.code, 'MODEL_UNKNOWN');
      assert.match(err.message, /"nope"; known: yolox_nano/);
      return true;
    });
  });

  test('loadModel verifies the file and returns its labels', async () => {
    const yolox = await loadModel('yolox_nano', { modelsDir: MODELS });
    assert.equal(yolox.labels.length, 80);
    assert.ok(yolox.path.endsWith('yolox_nano.onnx'));
    const mobilenet = await loadModel('mobilenetv2_int8', { modelsDir: MODELS });
    assert.equal(mobilenet.labels[0], 'tench');
    assert.deepEqual((await loadModel('osnet_x0_25_msmt17', { modelsDir: MODELS })).labels, []);
    const empty = await mkdtemp(join(tmpdir(), 'load-'));
    try {
      await assert.rejects(
        loadModel('yolox_nano', { modelsDir: empty }),
        /MODEL_MISSING|is missing.*sightline models fetch yolox_nano/,
      );
      await assert.rejects(
        loadModel('nope', { modelsDir: MODELS }),
        (err: unknown) => (err as ModelError).code === 'MODEL_UNKNOWN',
      );
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe('fetchModels and ensureDemoAssets from a local mirror', () => {
  let server: Server;
  let manifest: Manifest;
  let manifestPath = '';
  let dir = '';
  let hits: string[] = [];

  before(async () => {
    assert.ok(MODELS && MEDIA, 'MODELS_DIR and SIGHTLINE_MEDIA_DIR must be set');
    server = createServer((req, res) => {
      const name = decodeURIComponent((req.url ?? '/').slice(1));
      hits.push(name);
      if (name === 'broken.onnx') {
        res.writeHead(500);
        res.end('boom');
        return;
      }
      const from = name.endsWith('.jpg') ? MEDIA : MODELS;
      const stream = createReadStream(join(from, name));
      stream.on('error', () => {
        res.writeHead(404);
        res.end();
      });
      stream.on('open', () => {
        res.writeHead(200);
        stream.pipe(res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const raw = JSON.parse(await readFile(defaultManifestPath, 'utf8'));
    raw.models = raw.models
      .filter((m: { id: string }) =>
        ['super_resolution', 'mobilenetv2_int8', 'deeplabv3_mnv2_pascal_257', 'osnet_x0_25_msmt17'].includes(
          m.id,
        ),
      )
      .map((m: { id: string; file: string }) => ({
        ...m,
        url: base + (m.id === 'deeplabv3_mnv2_pascal_257' ? 'broken.onnx' : m.file),
      }));
    raw.files = raw.files.map((f: { file: string }) => ({ ...f, url: base + f.file }));
    raw.media = raw.media
      .filter((m: { id: string }) => m.id === 'dog' || m.id === 'bus')
      .map((m: { file: string }) => ({ ...m, url: base + m.file }));
    raw.defaultModel = 'mobilenetv2_int8';
    raw.defaultMedia = 'dog';
    raw.demoMedia = ['dog', 'bus'];
    raw.demoReidModel = 'osnet_x0_25_msmt17';
    dir = await mkdtemp(join(tmpdir(), 'fetch-cmd-'));
    manifestPath = join(dir, 'manifest.json');
    await writeFile(manifestPath, JSON.stringify(raw));
    manifest = parseManifest(JSON.stringify(raw));
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  test('fetches what is missing, keeps going past a failure and reports it', async () => {
    const cache = join(dir, 'models');
    const { out, text } = output();
    hits = [];
    const first = await fetchModels({ out, manifest, modelsDir: cache, progress: false });
    assert.deepEqual(
      first.results.map((r) => [r.id, r.action]),
      [
        ['osnet_x0_25_msmt17', 'fetched'],
        ['mobilenetv2_int8', 'fetched'],
        ['super_resolution', 'fetched'],
        ['deeplabv3_mnv2_pascal_257', 'failed'],
        ['imagenet_classes', 'fetched'],
      ],
    );
    assert.equal(first.failures, 1);
    assert.match(text(), /^failed\s+deeplabv3_mnv2_pascal_257\s+FETCH_FAILED: .*broken\.onnx: HTTP 500/m);
    assert.match(text(), /4 fetched, 0 already present, 1 failed\./);
    assert.deepEqual((await readdir(cache)).sort(), [
      'imagenet_classes.txt',
      'mobilenetv2_int8.onnx',
      'osnet_x0_25_msmt17.onnx',
      'super_resolution.onnx',
    ]);

    const again = await fetchModels({
      out,
      manifest,
      modelsDir: cache,
      progress: false,
      ids: ['super_resolution'],
    });
    assert.deepEqual(
      again.results.map((r) => r.action),
      ['present'],
    );
    const forced = await fetchModels({
      out,
      manifest,
      modelsDir: cache,
      progress: false,
      ids: ['super_resolution'],
      force: true,
    });
    assert.deepEqual(
      forced.results.map((r) => r.action),
      ['fetched'],
    );
    assert.equal(hits.filter((h) => h === 'super_resolution.onnx').length, 2);

    const json = output();
    const report = await fetchModels({
      out: json.out,
      manifest,
      modelsDir: cache,
      progress: false,
      json: true,
      ids: ['super_resolution', 'deeplabv3_mnv2_pascal_257'],
    });
    const printed = JSON.parse(json.text()) as {
      results: { id: string; path: string; action: string; error?: string }[];
      failures: number;
    };
    assert.deepEqual(printed, JSON.parse(JSON.stringify(report)));
    assert.equal(printed.failures, 1);
    assert.deepEqual(
      printed.results.map((r) => [r.id, r.action]),
      [
        ['super_resolution', 'present'],
        ['deeplabv3_mnv2_pascal_257', 'failed'],
      ],
    );
    assert.equal(printed.results[0]!.path, join(cache, 'super_resolution.onnx'));
    assert.match(printed.results[1]!.error ?? '', /HTTP 500/);
  });

  test('ensureDemoAssets fetches the default model, its labels, the re-ID model and the demo media once', async () => {
    const models = join(dir, 'demo-models');
    const media = join(dir, 'demo-media');
    hits = [];
    const first = await ensureDemoAssets({
      manifestPath,
      modelsDir: models,
      mediaDir: media,
      progress: false,
    });
    assert.equal(first.modelId, 'mobilenetv2_int8');
    assert.equal(first.reidModelId, 'osnet_x0_25_msmt17');
    assert.deepEqual(first.media, [
      { id: 'dog', path: join(media, 'dog.jpg') },
      { id: 'bus', path: join(media, 'bus.jpg') },
    ]);
    assert.deepEqual(
      first.results.map((r) => [r.id, r.action]),
      [
        ['mobilenetv2_int8', 'fetched'],
        ['imagenet_classes', 'fetched'],
        ['osnet_x0_25_msmt17', 'fetched'],
        ['dog', 'fetched'],
        ['bus', 'fetched'],
      ],
    );
    const second = await ensureDemoAssets({
      manifestPath,
      modelsDir: models,
      mediaDir: media,
      progress: false,
    });
    assert.deepEqual(
      second.results.map((r) => r.action),
      ['present', 'present', 'present', 'present', 'present'],
    );
    assert.equal(hits.length, 5);
    const none = await ensureDemoAssets({
      manifestPath,
      model: 'super_resolution',
      media: false,
      reidModel: false,
      modelsDir: models,
      progress: false,
    });
    assert.deepEqual(none.media, []);
    assert.deepEqual(
      none.results.map((r) => r.id),
      ['super_resolution'],
    );
  });
});
