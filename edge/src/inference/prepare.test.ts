import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ModelError } from '@sightline/shared';
import { loadModel } from '../models/load.ts';
import { type PrepareProgress, prepareModel } from './prepare.ts';
import { batchProfiles, sessionOptionsFor, tensorrtOptions } from './providers.ts';

test('prepareModel on a CPU-only machine reports TensorRT unavailable and warms the cpu session', async () => {
  const model = await loadModel('yolox_nano', { verify: false });
  const progress: PrepareProgress[] = [];
  const r = await prepareModel(model.entry, model.path, { providers: ['tensorrt', 'cpu'] }, (p) =>
    progress.push(p),
  );
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
