import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ModelError } from '@sightline/shared';
import { loadModel } from '../models/load.ts';
import { type PrepareProgress, prepareModel } from './prepare.ts';
import { batchProfiles, sessionOptionsFor, tensorrtEnvironment, tensorrtOptions } from './providers.ts';

test('prepareModel on a CPU-only machine reports TensorRT unavailable and warms the cpu session', async () => {
  const model = await loadModel('yolox_nano', { verify: false });
  const progress: PrepareProgress[] = [];
  const trtCacheDir = mkdtempSync(join(tmpdir(), 'trt-cache-'));
  const r = await prepareModel(
    model.entry,
    model.path,
    { providers: ['tensorrt', 'cpu'], trtCacheDir },
    (p) => progress.push(p),
  );
  assert.equal(process.env.ORT_TENSORRT_CACHE_PATH, trtCacheDir, 'engine cache set for the TensorRT EP');
  assert.ok(existsSync(trtCacheDir));
  assert.equal(r.provider, 'cpu');
  assert.deepEqual(
    r.skipped.map((s) => s.provider),
    ['tensorrt'],
  );
  assert.ok(progress.some((p) => p.stage === 'provider' && /TensorRT is unavailable/.test(p.message)));
  assert.equal(progress.filter((p) => p.stage === 'warmup').length, 1);
  assert.equal(progress.at(-1)!.stage, 'done');
  await assert.rejects(prepareModel(model.entry, '/nonexistent/model.onnx', {}), ModelError);
});

test('tensorrt options: engine cache, fp16 and batch profiles for dynamic-batch models only', () => {
  const dynamic = { input: { name: 'images', shape: [-1, 3, 256, 128] }, maxBatch: 32 };
  assert.deepEqual(batchProfiles(dynamic, 16), [1, 8, 16]);
  const o = tensorrtOptions(dynamic, { trtCacheDir: '/var/cache/trt', trtFp16: true, batchSize: 16 });
  assert.equal(o.trt_engine_cache_enable, true);
  assert.equal(o.trt_engine_cache_path, '/var/cache/trt');
  assert.equal(o.trt_fp16_enable, true);
  assert.equal(o.trt_profile_min_shapes, 'images:1x3x256x128');
  assert.equal(o.trt_profile_opt_shapes, 'images:8x3x256x128');
  assert.equal(o.trt_profile_max_shapes, 'images:16x3x256x128');
  const fixed = { input: { name: 'images', shape: [1, 3, 416, 416] }, maxBatch: 1 };
  assert.deepEqual(batchProfiles(fixed, 16), [1]);
  assert.equal(tensorrtOptions(fixed, { trtFp16: false, batchSize: 16 }).trt_profile_min_shapes, undefined);
  // onnxruntime-node forwards only deviceId, so the same settings travel as ORT_TENSORRT_* variables.
  const env = tensorrtEnvironment(dynamic, { trtCacheDir: '/var/cache/trt', trtFp16: true, batchSize: 16 });
  assert.equal(env.ORT_TENSORRT_ENGINE_CACHE_ENABLE, '1');
  assert.equal(env.ORT_TENSORRT_CACHE_PATH, '/var/cache/trt');
  assert.equal(env.ORT_TENSORRT_FP16_ENABLE, '1');
  assert.equal(env.ORT_TENSORRT_PROFILE_MAX_SHAPES, 'images:16x3x256x128');
  assert.equal(
    tensorrtEnvironment(fixed, { trtFp16: false, batchSize: 16 }).ORT_TENSORRT_PROFILE_MIN_SHAPES,
    undefined,
  );
});

test('spinning off sets allow_spinning 0 for intra- and inter-op threads', () => {
  const entry = { input: { name: 'images', shape: [1, 3, 416, 416] }, maxBatch: 1 };
  const cfg = {
    providers: ['cpu' as const],
    sessions: 1,
    intraOpThreads: 2,
    spinning: false,
    batchSize: 1,
    maxWaitMs: 5,
    inflightPerSession: 2,
    requestTimeoutMs: 10_000,
    trtFp16: true,
  };
  const off = sessionOptionsFor('cpu', entry, cfg);
  assert.deepEqual(off.extra, {
    session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } },
  });
  assert.equal(off.intraOpNumThreads, 2);
  assert.deepEqual(off.executionProviders, ['cpu']);
  const on = sessionOptionsFor('cpu', entry, { ...cfg, spinning: true });
  assert.deepEqual(on.extra, {
    session: { intra_op: { allow_spinning: '1' }, inter_op: { allow_spinning: '1' } },
  });
});
