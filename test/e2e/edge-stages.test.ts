// Model stages on a real edge: one stream runs detect -> segment -> classify (crops of people), another detect
// alone; the stages' outputs reach the results (and the tracks), frame order holds, the plain stream is untouched.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EdgeRuntime } from '@sightline/edge';
import { type FrameResult, parseEdgeConfig } from '@sightline/shared';
import { media, modelsDir } from './helpers.ts';

test('per-stream stages: segmentation and crop labels on the staged stream only, in frame order', async () => {
  const runtime = new EdgeRuntime(
    parseEdgeConfig({
      edgeId: 'e2e-stages',
      modelsDir: modelsDir(),
      streams: [
        {
          id: 'staged',
          source: media('vtest_h264.mp4'),
          realtime: false,
          maxFrames: 60,
          stages: 'detect -> segment -> classify',
        },
        { id: 'plain', source: media('vtest_h264.mp4'), realtime: false, maxFrames: 60, stages: ['detect'] },
        // Without its own list: every configured stage, enhance first.
        { id: 'all', source: media('vtest_h264.mp4'), realtime: false, maxFrames: 60 },
      ],
      inference: { sessions: 1 },
      detector: { classes: ['person'] },
      classify: { classes: ['person'], every: 2, minHeight: 40 },
      segment: { every: 3 },
      enhance: { whiteBalance: true, contrast: true },
    }),
  );
  const results = new Map<string, FrameResult[]>([
    ['staged', []],
    ['plain', []],
    ['all', []],
  ]);
  runtime.on('result', (r) => results.get(r.streamId)!.push(r));
  const ended = new Promise<void>((resolve) => runtime.once('end', resolve));
  try {
    await runtime.start();
    await ended;
  } finally {
    await runtime.close();
  }
  const staged = results.get('staged')!;
  const plain = results.get('plain')!;
  assert.equal(staged.length, 60);
  assert.equal(plain.length, 60);
  const all = results.get('all')!;
  assert.deepEqual(
    all.map((r) => r.seq),
    [...Array(60).keys()],
  );
  assert.ok(all.some((r) => r.segmentation));
  assert.deepEqual(
    staged.map((r) => r.seq),
    [...Array(60).keys()],
    'frame order holds while frames wait for stages of different cost',
  );
  for (const r of plain) {
    assert.equal(r.segmentation, undefined);
    assert.ok(r.detections.every((d) => d.classes === undefined));
  }
  for (const r of staged) {
    if (r.seq % 3 === 0) {
      const seg = r.segmentation;
      assert.ok(seg, `frame ${r.seq} segmented`);
      // vtest's people are ~15 px tall at DeepLab's 257 px: the street is what it sees (the model's accuracy is
      // checked on DATA.md's references in edge/src/inference/stage-models.test.ts).
      assert.equal(seg.classes[0]!.label, 'background');
      assert.ok(seg.classes[0]!.fraction > 0.5, JSON.stringify(seg.classes));
      const total = seg.classes.reduce((n, c) => n + c.fraction, 0);
      assert.ok(Math.abs(total - 1) < 1e-6, `fractions sum to 1 (${total})`);
      const map = seg.map!;
      let pixels = 0;
      for (let i = 1; i < map.runs.length; i += 2) pixels += map.runs[i]!;
      assert.equal(pixels, map.w * map.h, 'the runs fill the map');
      assert.ok(r.timings.stagesMs !== undefined);
    } else assert.equal(r.segmentation, undefined, `frame ${r.seq} not segmented (every 3)`);
    // Crop labels go to the tracks after their frame is published (nothing waits for them).
    assert.ok(r.detections.every((d) => d.classes === undefined));
    for (const t of r.tracks) {
      if (!t.classes) continue;
      assert.ok(t.classes.length >= 1 && t.classes.length <= 3, `labels of track ${t.trackId}`);
      assert.ok(
        t.classes.every((c, i) => c.score >= 0.05 && (i === 0 || c.score <= t.classes![i - 1]!.score)),
      );
    }
  }
  // Tracks carry the labels once their crops were classified (on this CPU the first come after some 20 frames of
  // an unpaced stream), and keep them on the frames after.
  const labelled = [...staged, ...all].filter((r) => r.tracks.some((t) => t.classes));
  assert.ok(labelled.length >= 1, 'tracks got labels');
  assert.ok(plain.every((r) => r.tracks.every((t) => t.classes === undefined)));
});
