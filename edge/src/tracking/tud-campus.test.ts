// Both trackers with their defaults over the Faster R-CNN detections of MOT15 TUD-Campus (the det.txt SORT was
// published with), scored as py-motmetrics scores it. Targets from the tracking issue: beat SORT (MOTA 62.7) and
// supervision's ByteTrack (IDF1 66.56) on both metrics with one set of defaults.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { TrackerConfig } from '@sightline/shared';
import { evaluateMot } from '../eval/evaluate-mot.ts';
import { trackMotDetections } from '../eval/track-mot.ts';
import { createTracker } from './create-tracker.ts';
import { readMotFile } from './mot-format.ts';

const motDir = process.env.SIGHTLINE_MOT_DIR;
const skip = !motDir && 'SIGHTLINE_MOT_DIR not set';

async function score(type: 'bytetrack' | 'deepsort') {
  const seq = join(motDir as string, 'TUD-Campus');
  const gt = await readMotFile(join(seq, 'gt.txt'));
  const det = await readMotFile(join(seq, 'det.txt'));
  const hyp = trackMotDetections(createTracker(TrackerConfig.parse({ type })), det, { lastFrame: 71 });
  const ids = new Set(hyp.map((r) => r.id));
  return { m: evaluateMot(gt, hyp), ids: ids.size };
}

const line = (m: Awaited<ReturnType<typeof score>>['m']) =>
  `MOTA ${(m.mota * 100).toFixed(2)} IDF1 ${(m.idf1 * 100).toFixed(2)} FP ${m.fp} FN ${m.fn} IDSW ${m.idsw} FM ${m.frag}`;

test('ByteTrack defaults on TUD-Campus beat SORT and supervision ByteTrack on MOTA and IDF1', {
  skip,
}, async (t) => {
  const { m, ids } = await score('bytetrack');
  t.diagnostic(`${line(m)}, ${ids} ids for 8 people`);
  assert.ok(m.mota > 0.627, `MOTA ${m.mota}`);
  assert.ok(m.idf1 > 0.6656, `IDF1 ${m.idf1}`);
  assert.ok(m.idsw <= 5, `IDSW ${m.idsw}`);
});

test('DeepSORT defaults on TUD-Campus (no images, so motion only) stay close', { skip }, async (t) => {
  const { m } = await score('deepsort');
  t.diagnostic(line(m));
  // Without pixels DeepSORT has no appearance; its IoU fallback must still track (SORT-level quality).
  assert.ok(m.mota > 0.6, `MOTA ${m.mota}`);
  assert.ok(m.idf1 > 0.6, `IDF1 ${m.idf1}`);
});
