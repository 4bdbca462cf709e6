// evaluateMot against py-motmetrics' own expected values for MOT15 TUD-Campus (test_motchallenge_files).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { readMotFile } from '../tracking/mot-format.ts';
import { evaluateMot } from './evaluate-mot.ts';

const motDir = process.env.SIGHTLINE_MOT_DIR;
const skip = !motDir && 'SIGHTLINE_MOT_DIR not set';

describe('evaluateMot on MOTChallenge files', { skip }, () => {
  test('TUD-Campus test.txt vs gt.txt reproduces py-motmetrics (IoU 0.5)', async () => {
    const seq = join(motDir as string, 'TUD-Campus');
    const gt = await readMotFile(join(seq, 'gt.txt'));
    const hyp = await readMotFile(join(seq, 'test.txt'));
    const m = evaluateMot(gt, hyp, { iouThreshold: 0.5 });
    // mm.utils.compare_to_groundtruth(gt, ts, 'iou', distth=0.5); MOTP in its 1 - IoU form; atol 1e-3.
    const rates = {
      idf1: 0.557659,
      idp: 0.72973,
      idr: 0.451253,
      recall: 0.582173,
      precision: 0.941441,
      mota: 0.526462,
      motp: 0.277201,
    };
    for (const [k, v] of Object.entries(rates)) {
      const got = m[k as keyof typeof rates];
      assert.ok(Math.abs(got - v) <= 1e-3, `${k} ${got} != ${v}`);
      assert.ok(Math.abs(got - v) <= 1e-6, `${k} ${got} agrees to 6 decimals with ${v}`);
    }
    const counts = { gtIds: 8, mt: 1, pt: 6, ml: 1, fp: 13, fn: 150, idsw: 7, frag: 7 };
    assert.deepEqual(
      Object.fromEntries(Object.keys(counts).map((k) => [k, m[k as keyof typeof counts]])),
      counts,
    );
    assert.deepEqual([m.numFrames, m.numObjects, m.numPredictions, m.numDetections], [71, 359, 222, 209]);
    assert.equal(m.ignoredGt, 0);
  });

  test('MOT17 gt: lines whose consider flag is 0 are ignored', async () => {
    const gt = await readMotFile(join(motDir as string, 'MOT17-09-FRCNN-mini', 'gt.txt'));
    const considered = gt.filter((r) => r.conf === 1);
    assert.ok(considered.length < gt.length, 'the file has flagged lines');
    const m = evaluateMot(gt, considered);
    assert.equal(m.ignoredGt, gt.length - considered.length);
    assert.deepEqual([m.mota, m.idf1, m.fp, m.fn, m.numObjects], [1, 1, 0, 0, considered.length]);
    // Counting the flagged lines, the same hypotheses miss them.
    const all = evaluateMot(gt, considered, { ignoreFlaggedGt: false });
    assert.equal(all.fn, gt.length - considered.length);
  });
});
