import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Box, ConfigError, type Detection, type Track, TrackerConfig } from '@sightline/shared';
import { ByteTracker } from './bytetrack.ts';
import { createTracker } from './create-tracker.ts';
import { iou } from './iou.ts';

const det = (box: Box, score = 0.9, classId = 0, label = 'person'): Detection => ({
  box,
  score,
  classId,
  label,
});
/** A 40x80 box whose top-left is at (x, y). */
const at = (x: number, y: number): Box => [x, y, x + 40, y + 80];
const byId = (tracks: Track[]) => new Map(tracks.map((t) => [t.trackId, t]));

describe('ByteTracker', () => {
  test('two objects moving across frames keep their ids', () => {
    const tracker = new ByteTracker({ minHits: 1 });
    let idA = 0;
    let idB = 0;
    for (let f = 0; f < 40; f++) {
      const a = at(10 + 6 * f, 100);
      const b = at(400 - 4 * f, 300 + f);
      const out = tracker.update([det(b, 0.8), det(a, 0.95)]);
      assert.equal(out.length, 2, `frame ${f}`);
      const ta = out.find((t) => iou(t.box, a) > 0.7);
      const tb = out.find((t) => iou(t.box, b) > 0.7);
      assert.ok(ta && tb, `frame ${f}: both objects reported near their detections`);
      if (f === 0) {
        idA = ta.trackId;
        idB = tb.trackId;
        assert.notEqual(idA, idB);
      }
      assert.equal(ta.trackId, idA, `frame ${f}`);
      assert.equal(tb.trackId, idB, `frame ${f}`);
      assert.equal(ta.hits, f + 1);
      assert.equal(ta.age, f);
      assert.equal(ta.timeSinceUpdate, 0);
      assert.equal(ta.status, 'confirmed');
    }
    assert.deepEqual([idA, idB].sort(), [1, 2]);
  });

  test('reports a track only from its minHits-th match; an unconfirmed track that misses a frame is dropped', () => {
    const tracker = new ByteTracker({ minHits: 3 });
    tracker.update([]); // what is there on the very first frame is confirmed at once (tested below)
    assert.equal(tracker.update([det(at(0, 0))]).length, 0);
    assert.equal(tracker.update([det(at(2, 0))]).length, 0);
    const third = tracker.update([det(at(4, 0))]);
    assert.equal(third.length, 1);
    assert.equal(third[0]?.trackId, 1);
    assert.equal(third[0]?.hits, 3);

    const other = new ByteTracker({ minHits: 3 });
    other.update([]);
    other.update([det(at(0, 0))]);
    other.update([det(at(2, 0))]);
    other.update([]); // miss while tentative: dropped
    other.update([det(at(4, 0))]);
    other.update([det(at(6, 0))]);
    assert.equal(other.update([det(at(8, 0))])[0]?.hits, 3, 'a fresh track had to start over');
  });

  test('tracks born on the first frame (after start or reset) are reported at once, as ByteTrack does', () => {
    const tracker = new ByteTracker({ minHits: 3 });
    assert.deepEqual(
      tracker.update([det(at(0, 0)), det(at(100, 0))]).map((t) => t.trackId),
      [1, 2],
    );
    assert.equal(
      tracker.update([det(at(2, 0)), det(at(102, 0)), det(at(300, 0))]).length,
      2,
      'a newcomer waits',
    );
    tracker.reset();
    assert.deepEqual(
      tracker.update([det(at(0, 0))]).map((t) => t.trackId),
      [3],
    );
  });

  test('a low-score detection keeps a track alive (the ByteTrack second association)', () => {
    const run = (lowThreshold: number) => {
      const tracker = new ByteTracker({ minHits: 1, highThreshold: 0.5, lowThreshold });
      const reported: number[][] = [];
      for (let f = 0; f < 15; f++) {
        const score = f >= 5 && f < 10 ? 0.3 : 0.9; // occluded: the detector is unsure for five frames
        reported.push(tracker.update([det(at(20 + 3 * f, 50), score)]).map((t) => t.trackId));
      }
      return reported;
    };
    const withLow = run(0.1);
    assert.deepEqual(
      withLow,
      Array.from({ length: 15 }, () => [1]),
      'reported on every frame, same id',
    );

    const withoutLow = run(0.5); // low detections ignored: the track coasts, unreported, while occluded
    assert.deepEqual(withoutLow.slice(5, 10), [[], [], [], [], []]);
    assert.deepEqual(withoutLow[10], [1], 're-found after the occlusion');
  });

  test('a low-score detection never starts a track', () => {
    const tracker = new ByteTracker({ minHits: 1 });
    for (let f = 0; f < 5; f++) assert.deepEqual(tracker.update([det(at(0, 0), 0.4)]), []);
    assert.deepEqual(tracker.tracks(), []);
  });

  test('a track survives a gap of maxAge frames with its id and is removed after more', () => {
    const maxAge = 5;
    const scenario = (gap: number) => {
      const tracker = new ByteTracker({ minHits: 1, maxAge });
      let f = 0;
      const box = () => at(100 + 2 * f, 100);
      for (; f < 10; f++) tracker.update([det(box())]);
      for (let g = 0; g < gap; g++, f++) {
        const out = tracker.update([]);
        assert.deepEqual(out, [], 'a lost track is not reported');
        const kept = tracker.tracks();
        if (g < maxAge) {
          assert.equal(kept[0]?.status, 'lost');
          assert.equal(kept[0]?.timeSinceUpdate, g + 1);
        }
      }
      return tracker.update([det(box())]);
    };
    assert.equal(scenario(maxAge)[0]?.trackId, 1, `re-associated after ${maxAge} missed frames`);
    assert.equal(scenario(maxAge - 3)[0]?.trackId, 1);
    assert.equal(scenario(maxAge + 1)[0]?.trackId, 2, 'removed after maxAge + 1 missed frames; new id');
  });

  test('a lost track coasts along its velocity', () => {
    const tracker = new ByteTracker({ minHits: 1 });
    for (let f = 0; f < 10; f++) tracker.update([det(at(10 * f, 0))]);
    tracker.update([]);
    tracker.update([]);
    const [lost] = tracker.tracks();
    assert.ok(lost);
    assert.ok(Math.abs(lost.box[0] - 110) < 3, `predicted x1 ${lost.box[0]} near 110`);
  });

  test('ids are never reused, not even after reset', () => {
    const tracker = createTracker(TrackerConfig.parse({ type: 'bytetrack', minHits: 1, maxAge: 2 }));
    const seen = new Set<number>();
    let last = 0;
    for (let round = 0; round < 4; round++) {
      // An object appears, stays 3 frames, disappears long enough to be removed; the next one appears elsewhere.
      for (let f = 0; f < 3; f++) {
        for (const t of tracker.update([det(at(round * 150, 0))])) {
          if (!seen.has(t.trackId)) {
            assert.ok(t.trackId > last, 'ids increase');
            last = t.trackId;
          }
          seen.add(t.trackId);
        }
      }
      for (let f = 0; f < 4; f++) tracker.update([]);
      assert.deepEqual(tracker.tracks(), []);
      if (round === 1) tracker.reset();
    }
    assert.deepEqual([...seen], [1, 2, 3, 4]);
  });

  test('associates only within a class', () => {
    const tracker = new ByteTracker({ minHits: 1 });
    const box = at(50, 50);
    const first = tracker.update([det(box, 0.9, 0, 'person'), det(box, 0.9, 2, 'car')]);
    assert.equal(first.length, 2);
    const ids = byId(first);
    for (let f = 1; f < 5; f++) {
      const out = tracker.update([det(at(50 + f, 50), 0.9, 2, 'car'), det(at(50 + f, 50), 0.9, 0, 'person')]);
      assert.equal(out.length, 2);
      for (const t of out) assert.equal(ids.get(t.trackId)?.classId, t.classId, 'a track keeps its class');
    }
    // Only the car is seen now: the person track must not take the car's detection.
    const out = tracker.update([det(at(56, 50), 0.9, 2, 'car')]);
    assert.equal(out.length, 1);
    assert.equal(out[0]?.label, 'car');
  });

  test("reports the matched detection's box and score; a lost track shows its Kalman prediction", () => {
    const tracker = new ByteTracker({ minHits: 1 });
    tracker.update([det(at(0, 0), 0.9)]);
    const [t] = tracker.update([det(at(8, 0), 0.7)]);
    assert.ok(t);
    assert.equal(t.score, 0.7);
    assert.deepEqual(t.box, at(8, 0), 'frame-accurate: the box the detector saw on this frame');
    tracker.update([]);
    const [lost] = tracker.tracks();
    assert.equal(lost?.status, 'lost');
    assert.ok(lost.box[0] > 0 && lost.box[0] < 16, `x1 ${lost.box[0]} is the filter's prediction`);
  });

  test('accepts and ignores appearance embeddings; rejects a misaligned list', () => {
    const tracker = createTracker(TrackerConfig.parse({ type: 'bytetrack', minHits: 1 }));
    const out = tracker.update([det(at(0, 0))], { embeddings: [new Float32Array(4)] });
    assert.equal(out.length, 1);
    assert.equal(out[0]?.embedding, undefined);
    assert.throws(
      () => tracker.update([det(at(0, 0))], { embeddings: [] }),
      /one embedding entry per detection/,
    );
  });

  test('ignores detections with empty or non-finite boxes', () => {
    const tracker = new ByteTracker({ minHits: 1 });
    const out = tracker.update([det([5, 5, 5, 50]), det([0, 0, Number.NaN, 10]), det(at(0, 0))]);
    assert.equal(out.length, 1);
  });

  test('rejects bad configs and unknown tracker types', () => {
    assert.throws(() => new ByteTracker({ lowThreshold: 0.8, highThreshold: 0.5 }), ConfigError);
    assert.throws(
      () => new ByteTracker({ maxAge: 0 }),
      (e: unknown) => e instanceof ConfigError && /maxAge/.test(e.message),
    );
    assert.throws(
      () => createTracker({ type: 'sort' } as unknown as TrackerConfig),
      /Expected a tracker type of bytetrack, deepsort but received sort/,
    );
  });
});
