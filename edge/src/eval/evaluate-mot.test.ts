import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { FormatError, type Track } from '@sightline/shared';
import { type MotRecord, parseMot, readMotFile } from '../tracking/mot-format.ts';
import type { Tracker } from '../tracking/tracker.ts';
import { evaluateMot } from './evaluate-mot.ts';
import { formatMotMetrics } from './mot-table.ts';
import { trackMotDetections } from './track-mot.ts';

const GT = parseMot(
  [
    '1,1,10,10,20,40,1,-1,-1,-1',
    '1,2,100,10,20,40,1,-1,-1,-1',
    '2,1,12,10,20,40,1,-1,-1,-1',
    '3,1,14,10,20,40,1,-1,-1,-1',
  ].join('\n'),
);

describe('evaluateMot', () => {
  test('identical hypotheses score perfectly, whatever their ids', () => {
    const hyp = GT.map((r) => ({ ...r, id: r.id + 100, conf: -1 }));
    const m = evaluateMot(GT, hyp);
    assert.deepEqual([m.mota, m.motp, m.idf1, m.recall, m.precision], [1, 0, 1, 1, 1]);
    assert.deepEqual([m.numFrames, m.numObjects, m.gtIds, m.mt, m.fp, m.fn, m.idsw], [3, 4, 2, 2, 0, 0, 0]);
  });

  test('an empty hypothesis file misses everything', () => {
    const m = evaluateMot(GT, []);
    assert.deepEqual([m.fn, m.fp, m.idsw, m.frag, m.mt, m.pt, m.ml], [4, 0, 0, 0, 0, 0, 2]);
    assert.deepEqual([m.mota, m.recall, m.idf1, m.idr], [0, 0, 0, 0]);
    assert.ok(Number.isNaN(m.motp) && Number.isNaN(m.precision) && Number.isNaN(m.idp));
    assert.match(formatMotMetrics(m), /MOTP\n.* 0\.0 +-\n/);
  });

  test('hypotheses in frames without gt are false positives', () => {
    const hyp = parseMot('5,9,10,10,20,40,-1,-1,-1,-1\n');
    const m = evaluateMot(GT, [...GT, ...hyp]);
    assert.deepEqual([m.numFrames, m.fp, m.fn], [4, 1, 0]);
  });

  test('gt lines flagged 0 (MOT16/17 "consider") are ignored unless asked otherwise', () => {
    const flagged: MotRecord = { ...(GT[1] as MotRecord), conf: 0 };
    const gt = [GT[0] as MotRecord, flagged, ...GT.slice(2)];
    const m = evaluateMot(gt, [GT[0] as MotRecord]);
    assert.deepEqual([m.ignoredGt, m.numObjects, m.gtIds, m.fn], [1, 3, 1, 2]);
    const all = evaluateMot(gt, [GT[0] as MotRecord], { ignoreFlaggedGt: false });
    assert.deepEqual([all.ignoredGt, all.numObjects, all.fn], [0, 4, 3]);
  });

  test('a malformed gt file fails with a FormatError naming the file and the line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mot-eval-'));
    try {
      const path = join(dir, 'gt.txt');
      await writeFile(path, '1,1,10,10,20,40,1,-1,-1,-1\n\n1,2,10,abc,20,40,1,-1,-1,-1\n');
      await assert.rejects(
        readMotFile(path),
        (e: unknown) => e instanceof FormatError && e.message.startsWith(`${path}:3: column 4 is "abc"`),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('formatMotMetrics prints the devkit columns with rates in percent', () => {
    const m = evaluateMot(GT, GT.slice(0, 3));
    const [head, values, totals] = formatMotMetrics(m).split('\n');
    assert.deepEqual(head?.trim().split(/\s+/), [
      'IDF1',
      'IDP',
      'IDR',
      'Rcll',
      'Prcn',
      'GT',
      'MT',
      'PT',
      'ML',
      'FP',
      'FN',
      'IDs',
      'FM',
      'MOTA',
      'MOTP',
    ]);
    // 3 of 4 gt boxes matched exactly; gt 1 lost in frame 3.
    assert.deepEqual(values?.trim().split(/\s+/), [
      '85.7',
      '100.0',
      '75.0',
      '75.0',
      '100.0',
      '2',
      '1',
      '1',
      '0',
      '0',
      '1',
      '0',
      '0',
      '75.0',
      '100.0',
    ]);
    assert.match(totals ?? '', /frames 3, gt boxes 4, hypothesis boxes 3 \(2 ids\), matched 3; .* 0\.0000/);
  });
});

describe('trackMotDetections', () => {
  test('updates the tracker once per frame up to lastFrame and turns its tracks into records', () => {
    const calls: number[] = [];
    // Reports every detection as track 7 (and nothing on empty frames).
    const tracker: Tracker = {
      update(dets) {
        calls.push(dets.length);
        return dets.map(
          (d): Track => ({ ...d, trackId: 7, status: 'confirmed', age: 1, hits: 1, timeSinceUpdate: 0 }),
        );
      },
      tracks: () => [],
      reset() {},
    };
    const dets = parseMot('3,-1,10,20,30,40,0.9\n1,-1,1,2,3,4,0.8\n1,-1,5,6,7,8,0.7\n');
    const out = trackMotDetections(tracker, dets, { lastFrame: 4 });
    assert.deepEqual(calls, [2, 0, 1, 0]);
    assert.deepEqual(out[2], { frame: 3, id: 7, x: 10, y: 20, w: 30, h: 40, conf: 0.9, extra: [-1, -1, -1] });
    assert.deepEqual(
      out.map((r) => r.frame),
      [1, 1, 3],
    );
  });
});
