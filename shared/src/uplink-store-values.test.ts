import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEdgeConfig } from './config.ts';
import { ConfigError } from './errors.ts';
import {
  BatchSchema,
  FLOAT4_MAX,
  HelloSchema,
  INT4_MAX,
  jsonProblem,
  MAX_JSON_DEPTH,
  PointSchema,
  storableJson,
  storableText,
  UPLINK_PROTOCOL,
} from './uplink.ts';

const batch = (over: Record<string, unknown> = {}) => ({
  t: 'batch',
  streamId: 'cam1',
  run: 'r1',
  seq: 1,
  points: [],
  tracks: [],
  thumbnails: [],
  embeddings: [],
  events: [],
  ...over,
});

const firstIssue = (r: {
  success: boolean;
  error?: { issues: { path: PropertyKey[]; message: string }[] };
}) => {
  assert.equal(r.success, false);
  const i = r.error!.issues[0]!;
  return `${i.path.join('.')}: ${i.message}`;
};

test('a point with a track id beyond int4 is refused naming the field', () => {
  assert.equal(PointSchema.safeParse([INT4_MAX, 0, 1, 2, 3, 4, 0.5]).success, true);
  assert.match(firstIssue(PointSchema.safeParse([INT4_MAX + 1, 0, 1, 2, 3, 4, 0.5])), /^0: Too big/);
  assert.match(firstIssue(PointSchema.safeParse([-1, 0, 1, 2, 3, 4, 0.5])), /^0: Too small/);
});

test('a point with a box value beyond float32 is refused; one too small for float32 becomes 0', () => {
  assert.match(
    firstIssue(PointSchema.safeParse([1, 0, 3.5e38, 2, 3, 4, 0.5])),
    /^2: must be a finite float32/,
  );
  assert.match(
    firstIssue(PointSchema.safeParse([1, 0, 1, 2, 3, -1e39, 0.5])),
    /^5: must be a finite float32/,
  );
  assert.equal(PointSchema.safeParse([1, 0, Number.NaN, 2, 3, 4, 0.5]).success, false);
  assert.equal(PointSchema.safeParse([1, 0, Number.POSITIVE_INFINITY, 2, 3, 4, 0.5]).success, false);
  const ok = PointSchema.parse([1, 0, FLOAT4_MAX, 1e-50, 1e-40, -FLOAT4_MAX, 0.5]);
  assert.deepEqual(ok, [1, 0, FLOAT4_MAX, 0, 1e-40, -FLOAT4_MAX, 0.5]);
});

test('a time beyond what a Date holds is refused', () => {
  assert.match(firstIssue(PointSchema.safeParse([1, 8.7e15, 1, 2, 3, 4, 0.5])), /^1: Too big/);
});

test('a batch with a NUL in event data, an event kind or a track label is refused naming the path', () => {
  const nulData = batch({ events: [{ kind: 'line', ts: 1, data: { nested: [{ who: 'a\u0000b' }] } }] });
  assert.match(
    firstIssue(BatchSchema.safeParse(nulData)),
    /^events\.0\.data: nested\.0\.who: must not contain NUL/,
  );
  const nulKey = batch({ events: [{ kind: 'line', ts: 1, data: { 'k\u0000': 1 } }] });
  assert.match(firstIssue(BatchSchema.safeParse(nulKey)), /^events\.0\.data: .*key .*must not contain NUL/);
  const nulKind = batch({ events: [{ kind: 'li\u0000ne', ts: 1 }] });
  assert.match(firstIssue(BatchSchema.safeParse(nulKind)), /^events\.0\.kind: must not contain NUL/);
  const label = batch({
    tracks: [{ trackId: 1, label: 'per\u0000son', classId: 0, firstSeen: 1, lastSeen: 2 }],
  });
  assert.match(firstIssue(BatchSchema.safeParse(label)), /^tracks\.0\.label: must not contain NUL/);
  const bytes = batch({ events: [{ kind: 'x', ts: 1, data: { raw: new Uint8Array([1]) } }] });
  assert.match(firstIssue(BatchSchema.safeParse(bytes)), /raw: a Uint8Array is not JSON/);
  const classId = batch({
    tracks: [{ trackId: 1, label: 'p', classId: 2 ** 31, firstSeen: 1, lastSeen: 2 }],
  });
  assert.match(firstIssue(BatchSchema.safeParse(classId)), /^tracks\.0\.classId: Too big/);
});

test('jsonProblem finds what jsonb cannot hold; plain JSON passes', () => {
  assert.equal(jsonProblem({ a: [1, 'x', null, true, { b: 2.5 }] }), undefined);
  assert.match(jsonProblem({ a: Number.NaN })!, /^a: not a finite number/);
  assert.match(jsonProblem({ a: '\ud800' })!, /unpaired UTF-16 surrogate/);
  assert.equal(jsonProblem({ a: '\ud83d\ude00' }), undefined);
  let deep: unknown = 1;
  for (let i = 0; i < MAX_JSON_DEPTH + 1; i++) deep = [deep];
  assert.match(jsonProblem(deep)!, /nested deeper/);
});

test('storableJson replaces what jsonb cannot hold and says so', () => {
  const r = storableJson({ source: 'rtsp://cam\u0000/x', 'k\u0000': [Number.NaN, 1], ok: 'fine' });
  assert.equal(r.changed, true);
  assert.deepEqual(r.value, { source: 'rtsp://cam\uFFFD/x', 'k\uFFFD': [null, 1], ok: 'fine' });
  assert.equal(jsonProblem(r.value), undefined);
  assert.deepEqual(storableJson({ a: [1, 'b'] }), { value: { a: [1, 'b'] }, changed: false });
  assert.equal(storableText('a\u0000b\udc00'), 'a\uFFFDb\uFFFD');
});

test('a hello with a NUL in a stream source still parses (the hub stores it made storable)', () => {
  const hello = {
    t: 'hello',
    protocol: UPLINK_PROTOCOL,
    edgeId: 'e1',
    run: 'r1',
    version: '1',
    model: 'm',
    provider: 'cpu',
    config: { streams: [{ id: 'nul', source: 'a\u0000b' }] },
    streams: [],
  };
  assert.equal(HelloSchema.safeParse(hello).success, true);
});

test('an edge config with a NUL anywhere is refused naming the path', () => {
  assert.throws(
    () => parseEdgeConfig({ streams: [{ id: 'nul', source: 'file.mp4\u0000' }] }),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.issues.some((i) => /^streams\.0\.source: must not contain NUL/.test(i)),
  );
  assert.throws(
    () => parseEdgeConfig({ streams: [{ source: 'a.mp4' }], detector: { classes: ['per\u0000son'] } }),
    (err: unknown) => err instanceof ConfigError && err.issues.some((i) => /^detector\.classes\.0: /.test(i)),
  );
});

test("a track's crop labels must be storable: a score in 0..1, a label without NUL, at most 10", () => {
  const track = (classes: unknown) =>
    batch({ tracks: [{ trackId: 1, label: 'car', classId: 2, firstSeen: 1, lastSeen: 2, classes }] });
  const good = [{ classId: 656, label: 'minivan', score: 0.61 }];
  assert.equal(BatchSchema.safeParse(track(good)).success, true);
  assert.equal(
    firstIssue(BatchSchema.safeParse(track([{ classId: 1, label: 'x', score: 1.5 }]))),
    'tracks.0.classes.0.score: Too big: expected number to be <=1',
  );
  assert.match(
    firstIssue(BatchSchema.safeParse(track([{ classId: 1, label: 'a\u0000b', score: 0.5 }]))),
    /^tracks\.0\.classes\.0\.label: /,
  );
  assert.match(
    firstIssue(BatchSchema.safeParse(track(new Array(11).fill(good[0])))),
    /^tracks\.0\.classes: /,
  );
  assert.match(
    firstIssue(BatchSchema.safeParse(track([{ label: 'x', score: 0.5 }]))),
    /^tracks\.0\.classes\.0\.classId: /,
  );
});
