import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Detection, Track } from '@sightline/shared';
import type { CropSource } from '../preprocess/crop.ts';
import type { Appearance, Tracker } from '../tracking/tracker.ts';
import { type CoreFrame, StreamCore, type StreamCoreOptions, type StreamOutput } from './stream-core.ts';

const det = (score: number, label = 'person'): Detection => ({
  box: [0, 0, 10, 20],
  score,
  classId: 0,
  label,
});

/** A frame decoded at `capturedAt` (ms on the test clock). */
const frame = (seq: number, capturedAt = 0): CoreFrame => ({
  seq,
  pts: seq * 9000,
  sourceWidth: 640,
  sourceHeight: 480,
  capturedAt,
  decodeMs: 2,
});

const inference = (detections: Detection[] = [det(0.9)]) => ({
  detections,
  preprocessMs: 1,
  inferMs: 5,
  postprocessMs: 0.5,
});

const pixels = (): CropSource => ({
  data: new Uint8Array(4 * 4 * 3),
  width: 4,
  height: 4,
  sourceWidth: 640,
  sourceHeight: 480,
});

/** A tracker that records what it was given; with `wants`, it asks for embeddings of every detection. */
function fakeTracker(wants = false): Tracker & { calls: { n: number; appearance?: Appearance }[] } {
  const calls: { n: number; appearance?: Appearance }[] = [];
  return {
    calls,
    update(detections, appearance) {
      calls.push({ n: detections.length, ...(appearance ? { appearance } : {}) });
      return detections.map(
        (d, i): Track => ({ ...d, trackId: i + 1, status: 'confirmed', age: 1, hits: 1, timeSinceUpdate: 0 }),
      );
    },
    ...(wants ? { appearanceWanted: (d: readonly Detection[]) => d.map(() => true) } : {}),
    tracks: () => [],
    reset: () => {},
  };
}

/** A core on a clock the test moves. */
function core(options: Partial<StreamCoreOptions> = {}) {
  const clock = { t: 0 };
  const c = new StreamCore({ streamId: 'cam', tracker: fakeTracker(), now: () => clock.t, ...options });
  return { c, clock };
}

const seqs = (out: StreamOutput[]) => out.map((o) => (o.type === 'result' ? o.result.seq : `${o.type}`));

describe('StreamCore reorder', () => {
  test('results that come back out of order are tracked in decode order', () => {
    const { c } = core();
    const slots = [0, 1, 2].map((i) => c.push(frame(i)));
    c.complete(slots[2]!, inference());
    assert.deepEqual(c.drain(), [], 'frame 2 waits for 0 and 1');
    c.complete(slots[1]!, inference());
    assert.deepEqual(c.drain(), []);
    c.complete(slots[0]!, inference());
    assert.deepEqual(seqs(c.drain()), [0, 1, 2]);
    assert.equal(c.untracked, 0);
    assert.equal(c.framesInferred, 3);
  });

  test('a failed inference is a dropped frame in its place, counted in inferErrors', () => {
    const { c } = core();
    const [a, b, d] = [0, 1, 2].map((i) => c.push(frame(i)));
    c.complete(b!, undefined);
    c.complete(d!, inference());
    c.complete(a!, inference());
    const out = c.drain();
    assert.deepEqual(seqs(out), [0, 'dropped', 2]);
    assert.deepEqual(out[1], {
      type: 'dropped',
      pts: 9000,
      frame: { seq: 1, width: 640, height: 480, capturedAt: 0 },
    });
    assert.equal(c.inferErrors, 1);
    assert.equal(c.framesInferred, 2);
  });

  test('held once maxUntracked frames are dispatched but untracked, released as they are tracked', () => {
    const { c } = core({ maxUntracked: 2 });
    const a = c.push(frame(0));
    assert.equal(c.held, false);
    c.push(frame(1));
    assert.equal(c.held, true);
    c.complete(a, inference());
    c.drain();
    assert.equal(c.held, false);
  });

  test('a retired stream publishes nothing more', () => {
    const { c } = core();
    const a = c.push(frame(0));
    c.retire();
    c.complete(a, inference());
    assert.deepEqual(c.drain(), []);
    assert.equal(c.retired, true);
    assert.equal(c.untracked, 0);
  });
});

describe('StreamCore tracking and timings', () => {
  test('timings: decode and queue from the frame, stages from inference, track and total from the clock', () => {
    const { c, clock } = core();
    clock.t = 100;
    const s = c.push(frame(0, 40));
    c.complete(s, inference());
    clock.t = 150;
    const [out] = c.drain();
    assert.equal(out?.type, 'result');
    const r = (out as Extract<StreamOutput, { type: 'result' }>).result;
    assert.deepEqual(r.timings, {
      decodeMs: 2,
      queueMs: 60,
      preprocessMs: 1,
      inferMs: 5,
      postprocessMs: 0.5,
      trackMs: 0,
      totalMs: 110,
    });
    assert.deepEqual(
      [r.streamId, r.seq, r.pts, r.width, r.height, r.capturedAt],
      ['cam', 0, 0, 640, 480, 40],
    );
    assert.equal(c.meter.percentile(50), 110);
  });

  test('every detection reaches the tracker; only those at or above minScore are published', () => {
    let minScore = 0.5;
    const tracker = fakeTracker();
    const { c } = core({ tracker, minScore: () => minScore });
    const a = c.push(frame(0));
    c.complete(a, inference([det(0.9), det(0.2), det(0.6)]));
    const [out] = c.drain() as Extract<StreamOutput, { type: 'result' }>[];
    assert.deepEqual(tracker.calls, [{ n: 3 }]);
    assert.deepEqual(
      out!.result.detections.map((d) => d.score),
      [0.9, 0.6],
    );
    assert.equal(out!.result.tracks.length, 3);
    assert.equal(c.activeTracks, 3);
    minScore = 0.95; // read per frame (applyConfig changes it live)
    const b = c.push(frame(1));
    c.complete(b, inference([det(0.9)]));
    const [next] = c.drain() as Extract<StreamOutput, { type: 'result' }>[];
    assert.deepEqual(next!.result.detections, []);
  });

  test('a new tracker resets activeTracks; a carried core keeps counters and meter', () => {
    const { c } = core();
    c.complete(c.push(frame(0)), inference());
    c.complete(c.push(frame(1)), undefined);
    c.drain();
    assert.equal(c.activeTracks, 1);
    c.tracker = fakeTracker();
    assert.equal(c.activeTracks, 0);
    const next = new StreamCore({ streamId: 'cam', tracker: fakeTracker(), carry: c });
    assert.equal(next.framesInferred, 1);
    assert.equal(next.inferErrors, 1);
    assert.equal(next.meter, c.meter);
  });

  test('the thumbnail stage gets the pixels of the frames it asked for', () => {
    const { c } = core();
    const px = pixels();
    c.complete(c.push(frame(0), { pixels: px, thumb: true }), inference());
    c.complete(c.push(frame(1), { pixels: pixels() }), inference());
    const out = c.drain() as Extract<StreamOutput, { type: 'result' }>[];
    assert.equal(out[0]!.thumbPixels, px);
    assert.equal(out[1]!.thumbPixels, undefined);
  });
});

describe('StreamCore re-ID wait', () => {
  /** Eligible: persons with a score of at least 0.5. */
  const reidEligible = (d: readonly Detection[], wanted: readonly boolean[]) =>
    d.map((x, i) => wanted[i] === true && x.label === 'person' && x.score >= 0.5);

  test('a frame wanting embeddings waits for them and holds the frames behind it', () => {
    const tracker = fakeTracker(true);
    const { c, clock } = core({ tracker, reidEligible });
    assert.equal(c.wantsPixels, true);
    const px = pixels();
    const slots = [0, 1].map((i) => c.push(frame(i), { pixels: i === 0 ? px : pixels() }));
    c.complete(slots[0]!, inference([det(0.9), det(0.8, 'car')]));
    c.complete(slots[1]!, inference([det(0.3)]));
    clock.t = 10;
    const out = c.drain();
    assert.deepEqual(out, [
      {
        type: 'stages',
        detections: [det(0.9), det(0.8, 'car')],
        pixels: px,
        work: { embed: [true, false] },
      },
    ]);
    assert.equal(c.waiting, true);
    assert.deepEqual(c.drain(), [], 'frame 1 waits behind frame 0');
    clock.t = 35;
    const emb = new Float32Array([1, 0]);
    const after = c.staged({ appearance: { embeddings: [emb, undefined] } });
    assert.deepEqual(seqs(after), [0, 1], 'frame 1 (nothing eligible) follows at once');
    const r0 = (after[0] as Extract<StreamOutput, { type: 'result' }>).result;
    assert.equal(r0.timings.embedMs, 25);
    assert.equal(r0.timings.stagesMs, 25);
    assert.deepEqual(tracker.calls[0]!.appearance, { embeddings: [emb, undefined] });
    assert.equal(tracker.calls[1]!.appearance, undefined);
    assert.equal(c.waiting, false);
  });

  test('re-ID failed: the frame is tracked without appearance', () => {
    const tracker = fakeTracker(true);
    const { c } = core({ tracker, reidEligible });
    c.complete(c.push(frame(0), { pixels: pixels() }), inference());
    assert.equal(c.drain()[0]?.type, 'stages');
    assert.deepEqual(seqs(c.staged(undefined)), [0]);
    assert.deepEqual(tracker.calls, [{ n: 1 }]);
  });

  test('no wait without re-ID, without pixels, or when no detection is eligible', () => {
    const noReid = core({ tracker: fakeTracker(true) });
    assert.equal(noReid.c.wantsPixels, false);
    noReid.c.complete(noReid.c.push(frame(0), { pixels: pixels() }), inference());
    assert.deepEqual(seqs(noReid.c.drain()), [0]);
    const noPixels = core({ tracker: fakeTracker(true), reidEligible });
    noPixels.c.complete(noPixels.c.push(frame(0)), inference());
    assert.deepEqual(seqs(noPixels.c.drain()), [0]);
    const notWanted = core({ tracker: fakeTracker(false), reidEligible });
    assert.equal(notWanted.c.wantsPixels, false);
    notWanted.c.complete(notWanted.c.push(frame(0), { pixels: pixels() }), inference());
    assert.deepEqual(seqs(notWanted.c.drain()), [0]);
    const ineligible = core({ tracker: fakeTracker(true), reidEligible });
    ineligible.c.complete(ineligible.c.push(frame(0), { pixels: pixels() }), inference([det(0.2)]));
    assert.deepEqual(seqs(ineligible.c.drain()), [0]);
  });

  test('a stream retired while its frame waits publishes nothing once the embeddings come', () => {
    const { c } = core({ tracker: fakeTracker(true), reidEligible });
    c.complete(c.push(frame(0), { pixels: pixels() }), inference());
    assert.equal(c.drain()[0]?.type, 'stages');
    c.retire();
    assert.deepEqual(c.staged({ appearance: { embeddings: [undefined] } }), []);
    assert.equal(c.waiting, false);
  });

  test('staged() without a frame waiting is a programming error', () => {
    const { c } = core();
    assert.throws(() => c.staged(undefined), /Expected a frame of stream cam waiting for its stages/);
  });
});

describe('StreamCore classify and segment stages', () => {
  const labels = (label: string) => [{ classId: 1, label, score: 0.9 }];

  test('whole-frame work holds the frame; crop labels are asked for after tracking and nothing waits for them', () => {
    const labelled: [number, string][] = [];
    const tracker = {
      ...fakeTracker(false),
      label: (id: number, classes: { label: string }[]) => {
        labelled.push([id, classes[0]!.label]);
        return true;
      },
    };
    const { c } = core({
      tracker,
      stageWork: (r) => (r.seq % 2 === 0 ? { segment: true } : undefined),
      labelWork: (r) => r.tracks.map((t) => t.label === 'car'),
    });
    assert.equal(c.wantsPixels, true, 'the stages need the pixels');
    const px = pixels();
    const px1 = pixels();
    const slots = [0, 1].map((i) => c.push(frame(i), { pixels: i === 0 ? px : px1 }));
    c.complete(slots[0]!, inference([det(0.9), det(0.8, 'car')]));
    c.complete(slots[1]!, inference([det(0.7)]));
    assert.deepEqual(c.drain(), [
      { type: 'stages', detections: [det(0.9), det(0.8, 'car')], pixels: px, work: { segment: true } },
    ]);
    const segmentation = { classes: [{ classId: 0, label: 'background', fraction: 1 }] };
    const after = c.staged({ segmentation });
    // Frame 0 is published, then its car's crop is asked for; frame 1 (no car, no segment) follows at once.
    assert.deepEqual(seqs(after), [0, 'label', 1]);
    const r0 = (after[0] as Extract<StreamOutput, { type: 'result' }>).result;
    assert.deepEqual(r0.segmentation, segmentation);
    const label = after[1] as Extract<StreamOutput, { type: 'label' }>;
    assert.equal(label.pixels, px);
    assert.deepEqual(
      label.tracks.map((t) => [t.trackId, t.label]),
      [[2, 'car']],
    );
    assert.equal((after[2] as Extract<StreamOutput, { type: 'result' }>).result.segmentation, undefined);
    c.labelled(new Map([[2, labels('minivan')]]));
    assert.deepEqual(labelled, [[2, 'minivan']]);
    c.retire();
    c.labelled(new Map([[2, labels('cab')]]));
    assert.deepEqual(labelled, [[2, 'minivan']], 'a retired stream takes no labels');
  });

  test('no track chosen and no frame work: no output beyond the result; a failed stage leaves its part out', () => {
    const { c } = core({ labelWork: (r) => r.tracks.map(() => false) });
    c.complete(c.push(frame(0), { pixels: pixels() }), inference([det(0.9)]));
    assert.deepEqual(seqs(c.drain()), [0]);
    const framed = core({ stageWork: () => ({ classifyFrame: true }) });
    const px = pixels();
    framed.c.complete(framed.c.push(frame(0), { pixels: px }), inference([det(0.9)]));
    assert.deepEqual(framed.c.drain(), [
      { type: 'stages', detections: [det(0.9)], pixels: px, work: { classifyFrame: true } },
    ]);
    // The classifier failed: the frame is published without a classification.
    const [published] = framed.c.staged({}) as Extract<StreamOutput, { type: 'result' }>[];
    assert.equal(published!.result.classification, undefined);
    assert.equal(published!.result.seq, 0);
  });
});
