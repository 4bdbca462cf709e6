// ByteTrack over the real Faster R-CNN detections of MOT15 TUD-Campus (71 frames, 8 gt identities).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Detection } from '@sightline/shared';
import { ByteTracker } from './bytetrack.ts';
import { iou } from './iou.ts';
import { groupByFrame, motBox, readMotFile } from './mot-format.ts';

const motDir = process.env.SIGHTLINE_MOT_DIR;

test('ByteTrack on TUD-Campus det.txt gives few, long tracks that cover the ground truth', {
  skip: !motDir && 'SIGHTLINE_MOT_DIR not set',
}, async (t) => {
  const seq = join(motDir as string, 'TUD-Campus');
  const detRecords = await readMotFile(join(seq, 'det.txt'));
  const dets = groupByFrame(detRecords);
  const gt = groupByFrame(await readMotFile(join(seq, 'gt.txt')));
  const frames = Math.max(...dets.keys(), ...gt.keys());
  assert.equal(frames, 71);

  // The SORT det.txt scores are Faster R-CNN scores already cut at 0.5 (range 0.50..1.00, median 0.99),
  // so ByteTrack's defaults (high 0.5, low 0.1) would put everything in the first association.
  // Treat 0.5..0.7 as the "low" band instead.
  const scores = detRecords.map((r) => r.conf);
  assert.ok(Math.min(...scores) >= 0.5 && Math.max(...scores) <= 1, 'det.txt scores are in 0.5..1');
  const tracker = new ByteTracker({ highThreshold: 0.7, lowThreshold: 0.5, newTrackThreshold: 0.8 });

  const lengths = new Map<number, number>();
  let gtBoxes = 0;
  let covered = 0;
  let detCovered = 0;
  for (let f = 1; f <= frames; f++) {
    const frameDets: Detection[] = (dets.get(f) ?? []).map((r) => ({
      box: motBox(r),
      score: r.conf,
      classId: 0,
      label: 'person',
    }));
    const tracks = tracker.update(frameDets);
    assert.equal(new Set(tracks.map((x) => x.trackId)).size, tracks.length, `frame ${f}: ids unique`);
    for (const tr of tracks) lengths.set(tr.trackId, (lengths.get(tr.trackId) ?? 0) + 1);
    for (const g of gt.get(f) ?? []) {
      gtBoxes++;
      const gb = motBox(g);
      if (tracks.some((tr) => iou(tr.box, gb) >= 0.5)) covered++;
      if (frameDets.some((d) => iou(d.box, gb) >= 0.5)) detCovered++;
    }
  }
  const ids = lengths.size;
  const lens = [...lengths.values()].sort((a, b) => b - a);
  const coverage = covered / gtBoxes;
  t.diagnostic(`ids ${ids}, track lengths ${lens.join(' ')}`);
  t.diagnostic(
    `gt boxes covered at IoU>=0.5: tracks ${covered}/${gtBoxes} = ${coverage.toFixed(3)}, raw detections ${(detCovered / gtBoxes).toFixed(3)}`,
  );

  assert.ok(ids >= 5 && ids <= 30, `distinct ids ${ids} (gt has 8)`);
  const long = lens.filter((n) => n >= 20).length;
  assert.ok(long >= ids / 2, `most tracks last 20+ frames: ${lens.join(' ')}`);
  assert.ok(coverage >= 0.6, `coverage ${coverage}`);
});
