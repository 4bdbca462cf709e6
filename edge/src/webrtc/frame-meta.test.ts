import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameMetaSchema, type FrameResult, type Track } from '@sightline/shared';
import type { HeldFrame } from './frame-hold.ts';
import { frameMeta, MAX_META_RUNS } from './frame-meta.ts';

const frame: HeldFrame = { pts: 3600, packets: [], arrivedAt: 0, arrivedWall: 1_700_000_000_000 };
const options = { trackFilter: () => true, size: { width: 768, height: 576 } };

function track(id: number, extra: Partial<Track> = {}): Track {
  return {
    trackId: id,
    box: [10.04, 20.06, 110.01, 220.09],
    score: 0.9123,
    classId: 0,
    label: 'person',
    status: 'confirmed',
    age: 3,
    hits: 3,
    timeSinceUpdate: 0,
    ...extra,
  };
}

function result(extra: Partial<FrameResult> = {}): FrameResult {
  return {
    streamId: 's',
    seq: 7,
    pts: 3600,
    width: 768,
    height: 576,
    capturedAt: 1_700_000_000_000.44,
    detections: [],
    tracks: [track(1)],
    timings: {},
    ...extra,
  };
}

test('a plain result: no k, cls or seg on the wire (what old viewers get)', () => {
  const meta = frameMeta(frame, { kind: 'result', result: result() }, 90_000, options);
  assert.deepEqual(meta.tracks, [{ id: 1, c: 0, l: 'person', s: 0.91, b: [10, 20.1, 110, 220.1] }]);
  assert.ok(!('cls' in meta) && !('seg' in meta) && !('masks' in meta));
  assert.deepEqual(FrameMetaSchema.parse(meta), meta);
});

test("a track's crop labels, the frame's labels and its segmentation: top 3, rounded", () => {
  const classes = [
    { classId: 834, label: 'suit', score: 0.61234 },
    { classId: 655, label: 'miniskirt', score: 0.2049 },
    { classId: 869, label: 'trench coat', score: 0.0812 },
    { classId: 399, label: 'abaya', score: 0.0611 },
  ];
  const r = result({
    tracks: [track(1, { classes }), track(2)],
    classification: [{ classId: 920, label: 'traffic light', score: 0.456789 }],
    segmentation: {
      classes: [
        { classId: 0, label: 'background', fraction: 0.912345678 },
        { classId: 15, label: 'person', fraction: 0.087654322 },
      ],
      map: { w: 4, h: 2, runs: [0, 5, 15, 2, 0, 1] },
    },
  });
  const meta = frameMeta(frame, { kind: 'result', result: r }, 90_000, options);
  assert.deepEqual(meta.tracks[0]!.k, [
    { l: 'suit', s: 0.61 },
    { l: 'miniskirt', s: 0.2 },
    { l: 'trench coat', s: 0.08 },
  ]);
  assert.ok(!('k' in meta.tracks[1]!), 'a track without labels has no k');
  assert.deepEqual(meta.cls, [{ l: 'traffic light', s: 0.46 }]);
  assert.deepEqual(meta.seg, {
    classes: [
      { c: 0, l: 'background', f: 0.9123 },
      { c: 15, l: 'person', f: 0.0877 },
    ],
    map: { w: 4, h: 2, runs: [0, 5, 15, 2, 0, 1] },
  });
  assert.deepEqual(FrameMetaSchema.parse(JSON.parse(JSON.stringify(meta))), meta);
});

test('a class map too long for one message is left out; the areas still go', () => {
  const runs = Array.from({ length: MAX_META_RUNS + 2 }, (_, i) => (i % 2 ? 1 : (i / 2) % 2));
  const w = (MAX_META_RUNS + 2) / 2;
  const r = result({
    segmentation: { classes: [{ classId: 0, label: 'background', fraction: 0.5 }], map: { w, h: 1, runs } },
  });
  const meta = frameMeta(frame, { kind: 'result', result: r }, 1, options);
  assert.deepEqual(meta.seg, { classes: [{ c: 0, l: 'background', f: 0.5 }] });
});

test('a skipped frame carries none of them', () => {
  const meta = frameMeta(frame, { kind: 'timeout' }, 5, options);
  assert.equal(meta.skipped, true);
  assert.ok(!('cls' in meta) && !('seg' in meta));
});

test('the schema refuses a map whose size or runs do not add up', () => {
  const base = frameMeta(frame, { kind: 'result', result: result() }, 1, options);
  const seg = (map: unknown) => ({ ...base, seg: { classes: [], map } });
  assert.ok(FrameMetaSchema.safeParse(seg({ w: 2, h: 2, runs: [0, 4] })).success);
  assert.ok(
    !FrameMetaSchema.safeParse(seg({ w: 2000, h: 1000, runs: [0, 2_000_000] })).success,
    'too many cells',
  );
  assert.ok(!FrameMetaSchema.safeParse(seg({ w: 2, h: 2, runs: [0] })).success, 'odd runs');
  assert.ok(!FrameMetaSchema.safeParse(seg({ w: 2, h: 2, runs: [0, -1] })).success, 'negative run');
  assert.ok(!FrameMetaSchema.safeParse(seg({ w: 0, h: 2, runs: [] })).success, 'empty grid');
  assert.ok(
    !FrameMetaSchema.safeParse({ ...base, cls: [1, 2, 3, 4].map((i) => ({ l: `${i}`, s: 0.1 })) }).success,
    'at most 3 labels',
  );
});
