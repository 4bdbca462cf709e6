import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Batch, FrameResult, Track } from '@sightline/shared';
import { newRunId, UplinkBatcher, type UplinkBatcherOptions } from './batcher.ts';

function track(trackId: number, over: Partial<Track> = {}): Track {
  return {
    trackId,
    box: [10 * trackId, 20, 10 * trackId + 5, 40],
    score: 0.9,
    classId: 0,
    label: 'person',
    status: 'confirmed',
    age: 10,
    hits: 10,
    timeSinceUpdate: 0,
    ...over,
  };
}

function frame(streamId: string, capturedAt: number, tracks: Track[]): FrameResult {
  return {
    streamId,
    seq: 0,
    pts: 0,
    width: 640,
    height: 480,
    capturedAt,
    detections: [],
    tracks,
    timings: {},
  };
}

function batcher(options: Partial<UplinkBatcherOptions> = {}) {
  const batches: Batch[] = [];
  const b = new UplinkBatcher({ run: 'r1', flushMs: 60_000, onBatch: (x) => batches.push(x), ...options });
  return { b, batches };
}

const sha = (c: string) => c.repeat(64);

test('points only for confirmed tracks matched on this frame, at the rounded capture time', () => {
  const { b, batches } = batcher();
  b.addResult(
    frame('cam1', 1000.4, [
      track(1),
      track(2, { timeSinceUpdate: 1 }),
      track(3, { status: 'tentative' }),
      track(4, { status: 'lost', timeSinceUpdate: 3 }),
      track(5, { classId: 2, label: 'car', score: 0.5 }),
    ]),
  );
  b.flush();
  b.close();
  assert.equal(batches.length, 1);
  const [batch] = batches;
  assert.deepEqual(batch!.points, [
    [1, 1000, 10, 20, 15, 40, 0.9],
    [5, 1000, 50, 20, 55, 40, 0.5],
  ]);
  assert.deepEqual(batch!.tracks, [
    { trackId: 1, label: 'person', classId: 0, firstSeen: 1000, lastSeen: 1000 },
    { trackId: 5, label: 'car', classId: 2, firstSeen: 1000, lastSeen: 1000 },
  ]);
  assert.deepEqual(
    { t: batch!.t, streamId: batch!.streamId, run: batch!.run, seq: batch!.seq },
    { t: 'batch', streamId: 'cam1', run: 'r1', seq: 1 },
  );
  assert.deepEqual([batch!.thumbnails, batch!.embeddings, batch!.events], [[], [], []]);
});

test('seq starts at 1 and increases per stream; empty windows send nothing', () => {
  const { b, batches } = batcher();
  b.flush();
  assert.equal(batches.length, 0);
  for (let i = 0; i < 3; i++) {
    b.addResult(frame('cam1', 1000 + i, [track(1)]));
    if (i !== 1) b.addResult(frame('cam2', 1000 + i, [track(1)]));
    b.flush();
    b.flush(); // nothing new: no batch
  }
  // A frame with no matched confirmed track adds nothing either.
  b.addResult(frame('cam1', 2000, [track(1, { timeSinceUpdate: 2 })]));
  b.flush();
  b.close();
  assert.deepEqual(
    batches.map((x) => `${x.streamId}#${x.seq}`),
    ['cam1#1', 'cam2#1', 'cam1#2', 'cam1#3', 'cam2#2'],
  );
});

test('a stream is cut as soon as it holds maxPoints points', () => {
  const { b, batches } = batcher({ maxPoints: 5 });
  for (let i = 0; i < 7; i++) b.addResult(frame('cam1', 1000 + i * 40, [track(1), track(2)]));
  assert.equal(batches.length, 2, 'cut after the 3rd and the 6th frame');
  assert.deepEqual(
    batches.map((x) => x.points.length),
    [6, 6],
  );
  b.flush();
  assert.deepEqual(
    batches.map((x) => [x.seq, x.points.length]),
    [
      [1, 6],
      [2, 6],
      [3, 2],
    ],
  );
  b.close();
});

test('a batch is cut every flushMs, and not at all while nothing comes', async () => {
  const { b, batches } = batcher({ flushMs: 30 });
  b.addResult(frame('cam1', 1000, [track(1)]));
  b.addEvent('cam1', { kind: 'state', ts: 1000.7, data: { state: 'running' } });
  await sleep(120);
  assert.equal(batches.length, 1);
  assert.deepEqual(batches[0]!.events, [{ kind: 'state', ts: 1001, data: { state: 'running' } }]);
  await sleep(100);
  assert.equal(batches.length, 1, 'empty windows send nothing');
  b.addEvent('cam1', { kind: 'line-cross', ts: 2000 });
  await sleep(100);
  assert.equal(batches.length, 2);
  assert.deepEqual(batches[1]!.events, [{ kind: 'line-cross', ts: 2000 }]);
  assert.equal(batches[1]!.seq, 2);
  b.close();
  b.addEvent('cam1', { kind: 'x', ts: 3000 });
  await sleep(80);
  assert.equal(batches.length, 2, 'close stops the timer');
});

test('firstSeen is remembered across windows; a track unseen for 60 s is forgotten', () => {
  const { b, batches } = batcher();
  b.addResult(frame('cam1', 1000, [track(1, { status: 'tentative' })])); // seen, not yet confirmed
  b.addResult(frame('cam1', 1100, [track(1)]));
  b.flush();
  b.addResult(frame('cam1', 5000, [track(1), track(2)]));
  b.flush();
  assert.deepEqual(
    batches.map((x) => x.tracks.map((t) => [t.trackId, t.firstSeen, t.lastSeen])),
    [
      [[1, 1000, 1100]],
      [
        [1, 1000, 5000],
        [2, 5000, 5000],
      ],
    ],
  );
  // Track 1 disappears for more than 60 s (track 2 keeps the stream clock going).
  b.addResult(frame('cam1', 66_000, [track(2)]));
  b.flush();
  b.addResult(frame('cam1', 66_100, [track(1), track(2)]));
  b.flush();
  b.close();
  assert.deepEqual(
    batches[3]!.tracks.map((t) => [t.trackId, t.firstSeen, t.lastSeen]),
    [
      [1, 66_100, 66_100],
      [2, 5000, 66_100],
    ],
  );
});

test('embeddings: the first at once, then at most every embeddingEveryMs per track; vectors are copies', () => {
  const { b, batches } = batcher({ embeddingEveryMs: 10_000 });
  const emb = new Float32Array([0.6, 0.8, 0, 0]);
  const other = new Float32Array([1, 0, 0, 0]);
  for (let ts = 0; ts <= 25_000; ts += 1000) {
    b.addResult(
      frame('cam1', ts, [track(1, { embedding: emb }), track(2, ts >= 3000 ? { embedding: other } : {})]),
    );
  }
  const sent = [...emb];
  emb[0] = 42; // the tracker updates its gallery in place
  b.flush();
  b.close();
  const { embeddings } = batches[0]!;
  assert.deepEqual(
    embeddings.map((e) => [e.trackId, e.ts]),
    [
      [1, 0],
      [2, 3000],
      [1, 10_000],
      [2, 13_000],
      [1, 20_000],
      [2, 23_000],
    ],
  );
  assert.equal(embeddings[0]!.model, 'osnet_x0_25_msmt17');
  const v = embeddings[0]!.vector;
  assert.ok(v instanceof Uint8Array);
  assert.equal(v.length, 16);
  assert.deepEqual([...new Float32Array(v.buffer, v.byteOffset, 4)], [...new Float32Array(sent)]);
  const custom = batcher({ embeddingModel: 'my-reid' });
  custom.b.addResult(frame('cam1', 0, [track(1, { embedding: emb })]));
  custom.b.flush();
  custom.b.close();
  assert.equal(custom.batches[0]!.embeddings[0]!.model, 'my-reid');
});

test('thumbnails are sent once each; the summary names the best one so far', () => {
  const { b, batches } = batcher();
  const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xd9]);
  b.addResult(frame('cam1', 1000, [track(1)]));
  b.addThumbnail({ streamId: 'cam1', trackId: 1, sha256: sha('a'), jpeg, score: 0.5, ts: 1000 });
  b.addThumbnail({ streamId: 'cam1', trackId: 1, sha256: sha('b'), jpeg, score: 0.9, ts: 1000 });
  b.addThumbnail({ streamId: 'cam1', trackId: 1, sha256: sha('c'), jpeg, score: 0.7, ts: 1000 });
  b.flush();
  b.addResult(frame('cam1', 2000, [track(1)]));
  b.flush();
  b.close();
  assert.deepEqual(
    batches[0]!.thumbnails.map((t) => t.sha256),
    [sha('a'), sha('b'), sha('c')],
  );
  assert.equal(batches[0]!.tracks[0]!.thumbnail, sha('b'));
  assert.equal(batches[0]!.tracks[0]!.thumbnailScore, 0.9);
  assert.deepEqual(batches[1]!.thumbnails, []);
  assert.equal(batches[1]!.tracks[0]!.thumbnail, sha('b'), 'remembered across windows');
});

test('a big thumbnail load cuts the batch early (frames stay under the hub limit)', () => {
  const { b, batches } = batcher({ maxBytes: 1000 });
  b.addResult(frame('cam1', 1000, [track(1)]));
  const jpeg = new Uint8Array(400);
  for (let i = 0; i < 5; i++) {
    b.addThumbnail({ streamId: 'cam1', trackId: 1, sha256: sha(String(i)), jpeg, score: i, ts: 1000 });
  }
  b.flush();
  b.close();
  assert.deepEqual(
    batches.map((x) => x.thumbnails.length),
    [3, 2],
  );
});

test('newRunId gives distinct ids the protocol accepts', () => {
  const a = newRunId();
  const b = newRunId();
  assert.notEqual(a, b);
  assert.match(a, /^[a-z0-9]+-[a-z0-9]{6}$/);
});

test("a track's crop labels go in its summary and stay there on frames without them", () => {
  const { b, batches } = batcher();
  const labels = [{ classId: 656, label: 'minivan', score: 0.61 }];
  b.addResult(frame('cam1', 1000, [track(5, { classId: 2, label: 'car', classes: labels })]));
  b.flush();
  b.addResult(frame('cam1', 1100, [track(5, { classId: 2, label: 'car' })]));
  b.flush();
  b.close();
  assert.deepEqual(batches[0]!.tracks[0]!.classes, labels);
  assert.deepEqual(batches[1]!.tracks[0]!.classes, labels, 'kept from the last classified frame');
});
