// DeepSORT in the edge pipeline: re-ID crops of the detections the tracker asks about, batched, embedded with
// OSNet, tracked with appearance; a broken re-ID set-up fails clearly before any stream starts.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EdgeRuntime } from '@sightline/edge';
import { type FrameResult, parseEdgeConfig } from '@sightline/shared';
import { media, waitForResults } from './helpers.ts';

test('deepsort on vtest: embeddings reach the tracker and the tracks, ids stay stable', async () => {
  const runtime = new EdgeRuntime(
    parseEdgeConfig({
      edgeId: 'e2e-ds',
      streams: [{ id: 'vtest', source: media('vtest_h264.mp4'), realtime: false }],
      detector: { classes: ['person'] },
      tracker: { type: 'deepsort' },
    }),
  );
  const all: FrameResult[] = [];
  runtime.on('result', (r) => all.push(r));
  try {
    await runtime.start();
    await waitForResults(runtime, 'vtest', 120, 180_000);
  } finally {
    await runtime.close();
  }
  const results = all.slice(0, 120);
  assert.deepEqual(
    results.map((r) => r.seq),
    Array.from({ length: 120 }, (_, i) => i),
    'in order, no gaps, while frames waited for embeddings',
  );
  const waited = results.filter((r) => r.timings.embedMs !== undefined);
  assert.ok(waited.length >= 10, `${waited.length} frames computed embeddings`);
  const embedded = results.flatMap((r) => r.tracks.filter((t) => t.embedding));
  assert.ok(embedded.length >= 10, `${embedded.length} track reports carry an embedding`);
  for (const t of embedded) {
    assert.equal(t.embedding!.length, 512);
    const norm = Math.sqrt(t.embedding!.reduce((s, v) => s + v * v, 0));
    assert.ok(Math.abs(norm - 1) < 1e-4, `unit length: ${norm}`);
  }
  assert.ok(
    embedded.length < results.reduce((n, r) => n + r.tracks.length, 0) / 2,
    'embeddings go out only when they changed, not on every frame',
  );
  // The same people walk through these 12 s: ids are few and most last long.
  const lengths = new Map<number, number>();
  for (const r of results)
    for (const t of r.tracks) lengths.set(t.trackId, (lengths.get(t.trackId) ?? 0) + 1);
  assert.ok(lengths.size >= 3 && lengths.size <= 20, `${lengths.size} ids`);
  const long = [...lengths.values()].filter((n) => n >= 30).length;
  assert.ok(long >= lengths.size / 2, `most ids last 30+ frames: ${[...lengths.values()].join(' ')}`);
});

test('a bad re-ID set-up fails before any stream starts, naming the model', async () => {
  // A detector where the re-ID model should be.
  const notReid = new EdgeRuntime(
    parseEdgeConfig({
      streams: [{ source: media('vtest_h264.mp4') }],
      tracker: { type: 'deepsort' },
      reid: { model: 'yolox_nano' },
    }),
  );
  await assert.rejects(notReid.start(), /reid\.model yolox_nano is a detection model, not a re-ID model/);
  await notReid.close();
  assert.ok(notReid.stats().every((s) => s.framesDecoded === 0));

  // A models directory with the real detector but a re-ID file that is not the model the manifest lists.
  const dir = mkdtempSync(join(tmpdir(), 'sightline-reid-'));
  try {
    symlinkSync(join(process.env.MODELS_DIR as string, 'yolox_nano.onnx'), join(dir, 'yolox_nano.onnx'));
    writeFileSync(join(dir, 'osnet_x0_25_msmt17.onnx'), 'not a model');
    const bad = new EdgeRuntime(
      parseEdgeConfig({
        modelsDir: dir,
        streams: [{ source: media('vtest_h264.mp4') }],
        tracker: { type: 'deepsort' },
      }),
    );
    await assert.rejects(bad.start(), /osnet_x0_25_msmt17\.onnx[\s\S]*61b2604171ef9d58/);
    await bad.close();
    assert.ok(bad.stats().every((s) => s.framesDecoded === 0));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
