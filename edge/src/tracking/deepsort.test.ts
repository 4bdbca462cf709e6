import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Box, ConfigError, type Detection, TrackerConfig } from '@sightline/shared';
import { ByteTracker } from './bytetrack.ts';
import { createTracker } from './create-tracker.ts';
import { DeepSortTracker } from './deepsort.ts';
import { l2Normalise } from './gallery.ts';
import { iou } from './iou.ts';
import type { Tracker } from './tracker.ts';

const det = (box: Box, score = 0.9, classId = 0, label = 'person'): Detection => ({
  box,
  score,
  classId,
  label,
});
/** A 40x80 box whose top-left is at (x, y). */
const at = (x: number, y: number): Box => [x, y, x + 40, y + 80];

/** A deterministic noisy unit vector around basis direction `axis` (distinct identities are near-orthogonal). */
function embedding(axis: number, seed: number, dims = 64, noise = 0.08): Float32Array {
  const v = new Float32Array(dims);
  let s = seed * 7919 + axis * 104729 + 1;
  for (let i = 0; i < dims; i++) {
    s = (s * 48271) % 2147483647;
    v[i] = ((s / 2147483647) * 2 - 1) * noise;
  }
  v[axis] = (v[axis] as number) + 1;
  return l2Normalise(v);
}

/**
 * Two people walk towards each other, meet, are hidden for `hidden` frames (one box for both, no embedding),
 * then turn back and walk home: motion alone predicts that they carried on and swaps them.
 * Returns the id reported near each person at the end, and their ids before the meeting.
 */
function crossing(tracker: Tracker, hidden = 6): { before: [number, number]; after: [number, number] } {
  const path = (f: number, from: number, dir: number): number => from + dir * 8 * Math.min(f, 20);
  let before: [number, number] = [0, 0];
  const idNear = (tracks: ReturnType<Tracker['update']>, box: Box): number =>
    tracks.find((t) => iou(t.box, box) > 0.5)?.trackId ?? 0;
  for (let f = 0; f < 20; f++) {
    const a = at(path(f, 100, 1), 200);
    const b = at(path(f, 420, -1), 200);
    const out = tracker.update([det(a), det(b)], { embeddings: [embedding(0, f), embedding(1, f)] });
    before = [idNear(out, a), idNear(out, b)];
  }
  for (let f = 0; f < hidden; f++) tracker.update([det(at(260, 200), 0.7)], { embeddings: [undefined] });
  let after: [number, number] = [0, 0];
  for (let f = 0; f < 10; f++) {
    const a = at(260 - 8 * (f + 1), 200);
    const b = at(260 + 8 * (f + 1), 200);
    const dets = [det(a), det(b)];
    const wanted = tracker.appearanceWanted?.(dets) ?? [true, true];
    const out = tracker.update(dets, {
      embeddings: [
        wanted[0] ? embedding(0, 100 + f) : undefined,
        wanted[1] ? embedding(1, 100 + f) : undefined,
      ],
    });
    after = [idNear(out, a), idNear(out, b)];
  }
  return { before, after };
}

describe('DeepSortTracker', () => {
  test('two people who cross under occlusion and turn back keep their ids by appearance', () => {
    const { before, after } = crossing(new DeepSortTracker());
    assert.ok(before[0] > 0 && before[1] > 0 && before[0] !== before[1], `ids before: ${before}`);
    assert.deepEqual(after, before);
  });

  test('motion alone (ByteTrack) swaps them in the same scene, so the test above exercises appearance', () => {
    const { before, after } = crossing(new ByteTracker());
    assert.notDeepEqual(after, before);
  });

  test('without embeddings it tracks by motion (Mahalanobis-gated IoU)', () => {
    const tracker = new DeepSortTracker({ minHits: 1 });
    let id = 0;
    for (let f = 0; f < 30; f++) {
      const out = tracker.update([det(at(10 + 5 * f, 50)), det(at(300, 300 + 3 * f))]);
      assert.equal(out.length, 2);
      const t = out.find((x) => iou(x.box, at(10 + 5 * f, 50)) > 0.6);
      assert.ok(t);
      if (f === 0) id = t.trackId;
      assert.equal(t.trackId, id, `frame ${f}`);
    }
  });

  test('a lost track is re-found by appearance after a gap, far from where motion puts it', () => {
    const tracker = new DeepSortTracker({ minHits: 1 });
    let id = 0;
    for (let f = 0; f < 10; f++) {
      const out = tracker.update([det(at(100 + 4 * f, 100))], { embeddings: [embedding(3, f)] });
      id = out[0]!.trackId;
    }
    for (let f = 0; f < 8; f++) tracker.update([]);
    // Reappears 30 px off the predicted path: too far for IoU with the coasting box, inside the gate.
    const out = tracker.update([det(at(200, 130))], { embeddings: [embedding(3, 50)] });
    assert.equal(out[0]?.trackId, id);
    // A different person at the same place is not taken for it.
    const other = new DeepSortTracker({ minHits: 1 });
    for (let f = 0; f < 10; f++) other.update([det(at(100 + 4 * f, 100))], { embeddings: [embedding(3, f)] });
    for (let f = 0; f < 8; f++) other.update([]);
    const stranger = other.update([det(at(200, 130))], { embeddings: [embedding(9, 50)] });
    assert.notEqual(stranger[0]?.trackId, id);
  });

  test('the Mahalanobis gate stops a far jump even with a perfect appearance match', () => {
    const tracker = new DeepSortTracker({ minHits: 1 });
    let id = 0;
    for (let f = 0; f < 10; f++)
      id = tracker.update([det(at(100, 100))], { embeddings: [embedding(2, f)] })[0]!.trackId;
    const out = tracker.update([det(at(600, 400))], { embeddings: [embedding(2, 99)] });
    assert.notEqual(out[0]?.trackId ?? 0, id, 'a 500 px jump in one frame is outside the gate');
    assert.equal(tracker.tracks().find((t) => t.trackId === id)?.status, 'lost');
  });

  test('tracks report their gallery mean as a unit-length embedding', () => {
    const tracker = new DeepSortTracker({ minHits: 1 });
    let out = tracker.update([det(at(0, 0))], { embeddings: [embedding(4, 1)] });
    for (let f = 1; f < 5; f++)
      out = tracker.update([det(at(2 * f, 0))], { embeddings: [embedding(4, f + 1)] });
    const e = out[0]?.embedding;
    assert.ok(e);
    const norm = Math.sqrt(e.reduce((s, v) => s + v * v, 0));
    assert.ok(Math.abs(norm - 1) < 1e-5);
    assert.ok((e[4] as number) > 0.9);
  });

  test('appearanceWanted asks only for new, ambiguous or stale detections', () => {
    const tracker = new DeepSortTracker({ minHits: 1, embedEvery: 3 });
    assert.deepEqual(tracker.appearanceWanted([det(at(0, 0)), det(at(200, 0))]), [true, true]);
    tracker.update([det(at(0, 0)), det(at(200, 0))], { embeddings: [embedding(0, 1), embedding(1, 1)] });
    // Same places next frame: both owned by a track with a fresh embedding; a newcomer needs one.
    assert.deepEqual(tracker.appearanceWanted([det(at(2, 0)), det(at(202, 0)), det(at(400, 0))]), [
      false,
      false,
      true,
    ]);
    tracker.update([det(at(2, 0)), det(at(202, 0))], { embeddings: [undefined, undefined] });
    tracker.update([det(at(4, 0)), det(at(204, 0))], { embeddings: [undefined, undefined] });
    // Three frames since the last embedding: refresh.
    assert.deepEqual(tracker.appearanceWanted([det(at(6, 0)), det(at(206, 0))]), [true, true]);
    // Two tracks close together: a detection between them is ambiguous.
    const close = new DeepSortTracker({ minHits: 1 });
    close.update([det(at(0, 0)), det(at(20, 0))], { embeddings: [embedding(0, 1), embedding(1, 1)] });
    assert.deepEqual(close.appearanceWanted([det(at(0, 0))]), [true]);
    // Below minScore: never.
    assert.deepEqual(close.appearanceWanted([det(at(500, 0), 0.1)]), [false]);
  });

  test('only the same class is associated; ids are never reused after reset', () => {
    const tracker = new DeepSortTracker({ minHits: 1 });
    const a = tracker.update([det(at(0, 0), 0.9, 0, 'person')])[0]!.trackId;
    const b = tracker.update([det(at(0, 0), 0.9, 2, 'car')])[0]!.trackId;
    assert.notEqual(a, b);
    tracker.reset();
    const c = tracker.update([det(at(0, 0))])[0]!.trackId;
    assert.ok(c > b);
  });

  test('bad input: wrong embedding count, invalid config, unusable boxes', () => {
    const tracker = createTracker(TrackerConfig.parse({ type: 'deepsort', minHits: 1 }));
    assert.throws(
      () => tracker.update([det(at(0, 0))], { embeddings: [] }),
      /one embedding entry per detection/,
    );
    assert.throws(() => new DeepSortTracker({ maxCosineDistance: -1 }), ConfigError);
    assert.throws(() => TrackerConfig.parse({ type: 'deepsort', budget: 0 }));
    assert.deepEqual(tracker.update([det([10, 10, 5, 5]), det([Number.NaN, 0, 1, 1])]), []);
  });
});
