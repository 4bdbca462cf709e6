import assert from 'node:assert/strict';
import {
  appendFileSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Batch, FrameResult, Track } from '@sightline/shared';
import { UplinkBatcher } from './batcher.ts';
import { frameRecord, Journal, readRecords } from './journal.ts';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sightline-journal-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function track(trackId: number, over: Partial<Track> = {}): Track {
  return {
    trackId,
    box: [10 * trackId, 20.25, 10 * trackId + 5.5, 40],
    score: 0.875,
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

const sha = (c: string) => c.repeat(64);

/** Simulates kill -9 at this point: what the journal wrote so far, copied to a folder of its own. */
function crashCopy(journal: Journal): string {
  const dir = tempDir();
  copyFileSync(journal.file, join(dir, `${journal.run}.wal`));
  return dir;
}

/** Feeds a bit of everything the batcher takes, on two streams, with one early cut of cam1. */
function feed(b: UplinkBatcher): void {
  // A thumbnail of a track not seen yet (summary with classId -1), then its first frame.
  b.addThumbnail({
    streamId: 'cam1',
    trackId: 3,
    sha256: sha('a'),
    jpeg: new Uint8Array([1, 2, 3]),
    score: 0.4,
    ts: 990,
  });
  b.addResult(
    frame('cam1', 1000.4, [
      track(1, { embedding: new Float32Array([0.5, -0.25]) }),
      track(2, { status: 'tentative' }),
      track(3),
    ]),
  );
  b.addEvent('cam1', { kind: 'stream-state', ts: 1001, data: { state: 'running' } });
  b.addResult(frame('cam2', 1010, [track(7, { classId: 2, label: 'car' })]));
  b.addResult(frame('cam1', 1100, [track(1), track(2), track(3, { timeSinceUpdate: 1 })])); // 2 confirmed now
  // A better thumbnail: track 3 joins the window through it.
  b.addThumbnail({
    streamId: 'cam1',
    trackId: 3,
    sha256: sha('b'),
    jpeg: new Uint8Array([4, 5]),
    score: 0.9,
    ts: 1100,
  });
  b.addThumbnail({
    streamId: 'cam1',
    trackId: 1,
    sha256: sha('c'),
    jpeg: new Uint8Array([6]),
    score: 0.1,
    ts: 1100,
  });
  b.addResult(frame('cam1', 1200, [track(1), track(2, { label: 'person', score: 0.5 })]));
  b.addResult(frame('cam2', 1210, [track(7, { classId: 2, label: 'car' }), track(8)]));
}

test('a crash before the cut: the recovered batches are exactly those the cut would have made', async () => {
  const dir = tempDir();
  const journal = Journal.open({ dir, run: 'run-a', fsync: 'none' });
  const batches: Batch[] = [];
  const b = new UplinkBatcher({ run: 'run-a', flushMs: 60_000, onBatch: (x) => batches.push(x), journal });
  // A first window of each stream, cut and reset by a flush: none of it comes back.
  b.addResult(frame('cam1', 500, [track(1)]));
  b.addResult(frame('cam2', 500, [track(7)]));
  b.flush();
  assert.equal(batches.length, 2);
  feed(b);
  await nextTurn(); // the group commit
  const crashed = crashCopy(journal);

  b.flush(); // what the live process would have cut
  b.close();
  const live = batches.slice(2);
  assert.deepEqual(
    live.map((x) => `${x.streamId}/${x.seq}`),
    ['cam1/2', 'cam2/2'],
  );

  const next = Journal.open({ dir: crashed, run: 'run-b' });
  assert.deepEqual(next.recovered, live);
  assert.equal(live[0]!.tracks.length, 3, 'tracks 1 and 2 joined by points, 3 by its better thumbnail');
  assert.equal(live[0]!.embeddings.length, 1);
  assert.ok(live[0]!.embeddings[0]!.vector instanceof Uint8Array);
  next.discardRecovered();
  next.close();
  assert.deepEqual(
    readdirSync(crashed),
    [],
    'the old file is deleted, and the new one (nothing in it) at close',
  );
  journal.close();
  assert.deepEqual(readdirSync(dir), [], 'after the last flush, close deletes the file');
});

test('a window cut early (full, or its stream reset) is not recovered; the open one after it is', async () => {
  const dir = tempDir();
  const journal = Journal.open({ dir, run: 'r1' });
  const batches: Batch[] = [];
  const b = new UplinkBatcher({
    run: 'r1',
    flushMs: 60_000,
    maxPoints: 3,
    onBatch: (x) => batches.push(x),
    journal,
  });
  b.addResult(frame('cam1', 100, [track(1), track(2)]));
  b.addResult(frame('cam1', 200, [track(1), track(2)])); // 4 points: cut at once (seq 1)
  b.addResult(frame('cam1', 300, [track(1)]));
  b.resetStream('cam1'); // cut (seq 2)
  b.addResult(frame('cam1', 400, [track(9)])); // open window, seq 3
  assert.deepEqual(
    batches.map((x) => x.seq),
    [1, 2],
  );
  // No turn has passed: the cuts wrote what was pending at once, the last frame is still pending.
  const early = Journal.open({ dir: crashCopy(journal), run: 'r2' });
  assert.deepEqual(early.recovered, [], 'windows 1 and 2 were cut; window 3 was not committed yet');
  early.close();
  await nextTurn();
  const later = Journal.open({ dir: crashCopy(journal), run: 'r2' });
  assert.deepEqual(
    later.recovered.map((x) => [x.seq, x.points]),
    [[3, [[9, 400, 90, 20.25, 95.5, 40, 0.875]]]],
  );
  later.close();
  b.close();
  journal.close();
  assert.deepEqual(readdirSync(dir), ['r1.wal'], 'an un-cut window keeps the file for the next start');
});

test('group commit: the records of one event-loop turn are written with one write', async () => {
  const dir = tempDir();
  const journal = Journal.open({ dir, run: 'r1', fsync: 'always' });
  const header = statSync(journal.file).size;
  for (let i = 0; i < 10; i++) journal.record('cam1', 1, { points: [[1, i, 0, 0, 1, 1, 0.5]] });
  assert.equal(statSync(journal.file).size, header, 'nothing written inside the turn');
  await nextTurn();
  assert.deepEqual(
    { ...journal.stats(), bytes: 0 },
    { commits: 1, records: 10, bytes: 0, syncs: 1, errors: 0 },
  );
  assert.ok(statSync(journal.file).size > header);
  journal.reset();
  assert.equal(statSync(journal.file).size, header, 'reset truncates back to the header');
  journal.close();
  journal.close();
  assert.equal(journal.closed, true);
});

test('a torn last record (cut short, bad checksum, zero-filled tail) is dropped; the records before it are kept', async () => {
  const dir = tempDir();
  const journal = Journal.open({ dir, run: 'r1', fsync: 'none' });
  journal.record('cam1', 1, { points: [[1, 10, 0, 0, 1, 1, 0.5]] });
  await nextTurn();
  journal.record('cam1', 1, { points: [[1, 20, 0, 0, 1, 1, 0.5]] });
  await nextTurn();
  const whole = readFileSync(journal.file);
  journal.close();
  const recover = (bytes: Uint8Array) => {
    const d = tempDir();
    writeFileSync(join(d, 'r1.wal'), bytes);
    const j = Journal.open({ dir: d, run: 'r2' });
    const points = j.recovered.flatMap((x) => x.points.map((p) => p[1]));
    j.close();
    return points;
  };
  assert.deepEqual(recover(whole), [10, 20]);
  for (let cut = 1; cut < 30; cut += 3) {
    assert.deepEqual(recover(whole.subarray(0, whole.length - cut)), [10], `cut short by ${cut} bytes`);
  }
  const flipped = Buffer.from(whole);
  flipped[flipped.length - 2]! ^= 0x40;
  assert.deepEqual(recover(flipped), [10], 'bad checksum');
  assert.deepEqual(recover(Buffer.concat([whole, Buffer.alloc(4096)])), [10, 20], 'zero-filled tail');
  assert.deepEqual(recover(new Uint8Array(0)), [], 'an empty file (killed before its header)');
  assert.deepEqual(recover(whole.subarray(0, 5)), [], 'a torn header');
  const { records, tornBytes } = readRecords(Buffer.concat([whole, frameRecord(new Uint8Array([0xc1]))]));
  assert.equal(records.length, 3, 'a payload that does not decode ends the file');
  assert.ok(tornBytes > 0);
});

test('the files of several earlier runs are all recovered, in name order, then deleted', async () => {
  const dir = tempDir();
  for (const run of ['ra', 'rb']) {
    const j = Journal.open({ dir: join(dir, run), run });
    j.record('cam1', 4, { events: [{ kind: 'stream-state', ts: 5 }] });
    j.commit();
    mkdirSync(join(dir, 'all'), { recursive: true });
    copyFileSync(j.file, join(dir, 'all', `${run}.wal`));
    j.reset();
    j.close();
  }
  appendFileSync(join(dir, 'all', 'notes.txt'), 'kept');
  const j = Journal.open({ dir: join(dir, 'all'), run: 'rc' });
  assert.deepEqual(
    j.recovered.map((x) => `${x.run}/${x.streamId}/${x.seq}/${x.events.length}`),
    ['ra/cam1/4/1', 'rb/cam1/4/1'],
  );
  j.discardRecovered();
  assert.deepEqual(j.recovered, []);
  assert.deepEqual(readdirSync(join(dir, 'all')).sort(), ['notes.txt', 'rc.wal']);
  j.close();
});

test('rejects a bad fsync policy and a run id that is not a file name', () => {
  const dir = tempDir();
  assert.throws(
    () => Journal.open({ dir, run: 'r1', fsync: 'sometimes' as 'none' }),
    /Expected 'none', 'batch' or 'always' for fsync/,
  );
  assert.throws(() => Journal.open({ dir, run: '../x' }), RangeError);
});
