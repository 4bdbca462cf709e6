import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DecodedFrame } from '../frame.ts';
import { FrameRing } from './frame-ring.ts';
import { Scheduler } from './scheduler.ts';

function frame(streamId: string, seq: number, capturedAt = 0): DecodedFrame {
  return {
    streamId,
    seq,
    pts: seq * 9000,
    data: new Uint8Array(3),
    width: 1,
    height: 1,
    sourceWidth: 1,
    sourceHeight: 1,
    capturedAt,
    decodeMs: 0,
  };
}

describe('FrameRing', () => {
  test('keeps order and drops the oldest when full, counting each drop', () => {
    const ring = new FrameRing(3);
    for (let i = 0; i < 3; i++) assert.equal(ring.push(frame('a', i)), undefined);
    assert.equal(ring.push(frame('a', 3))?.seq, 0);
    assert.equal(ring.push(frame('a', 4))?.seq, 1);
    assert.equal(ring.dropped, 2);
    assert.deepEqual(
      ring.drain().map((f) => f.seq),
      [2, 3, 4],
    );
    assert.equal(ring.size, 0);
  });

  test('rejects a capacity that is not a positive integer', () => {
    assert.throws(() => new FrameRing(0), /positive integer for capacity but received 0/);
    assert.throws(() => new FrameRing(2.5), RangeError);
  });
});

describe('Scheduler', () => {
  test('serves streams round-robin so a busy stream cannot starve a quiet one', () => {
    const s = new Scheduler({ maxBatch: 4, maxWaitMs: 0 });
    s.addStream('busy', { capacity: 30 });
    s.addStream('quiet', { capacity: 30 });
    for (let i = 0; i < 20; i++) s.push(frame('busy', i));
    s.push(frame('quiet', 0));
    const { batch } = s.next(0);
    assert.deepEqual(
      batch.map((f) => `${f.streamId}:${f.seq}`),
      ['busy:0', 'quiet:0', 'busy:1', 'busy:2'],
    );
  });

  test('a partial batch waits at most maxWaitMs, then goes', () => {
    const s = new Scheduler({ maxBatch: 4, maxWaitMs: 10 });
    s.addStream('a');
    s.push(frame('a', 0, 100));
    const early = s.next(104);
    assert.equal(early.batch.length, 0);
    assert.equal(early.waitMs, 6);
    const late = s.next(110);
    assert.equal(late.batch.length, 1);
  });

  test('a full batch goes at once, and batch size 1 never waits', () => {
    const s = new Scheduler({ maxBatch: 2, maxWaitMs: 1000 });
    s.addStream('a');
    s.push(frame('a', 0, 0));
    s.push(frame('a', 1, 0));
    assert.equal(s.next(0).batch.length, 2);
    s.push(frame('a', 2, 0));
    assert.equal(s.next(0, 1).batch.length, 1, 'a limit of one free slot sends one frame without waiting');
  });

  test('drops frames older than the stream staleness budget and counts them', () => {
    const s = new Scheduler({ maxBatch: 8, maxWaitMs: 0 });
    s.addStream('slow', { stalenessMs: 100 });
    s.addStream('fresh', { stalenessMs: 100 });
    s.push(frame('slow', 0, 0));
    s.push(frame('slow', 1, 50));
    s.push(frame('fresh', 0, 140));
    const d = s.next(149);
    assert.deepEqual(
      d.stale.map((f) => f.seq),
      [0],
    );
    assert.deepEqual(
      d.batch.map((f) => `${f.streamId}:${f.seq}`),
      ['slow:1', 'fresh:0'],
    );
    assert.equal(s.counters('slow').droppedStale, 1);
    assert.equal(s.counters('fresh').droppedStale, 0);
  });

  test('counts ring overflow per stream', () => {
    const s = new Scheduler({ maxBatch: 1 });
    s.addStream('a', { capacity: 2 });
    s.push(frame('a', 0));
    s.push(frame('a', 1));
    assert.equal(s.push(frame('a', 2))?.seq, 0);
    assert.deepEqual(s.counters('a'), { queued: 2, droppedOverflow: 1, droppedStale: 0 });
  });

  test('removing a stream returns its frames and keeps the others flowing', () => {
    const s = new Scheduler({ maxBatch: 4, maxWaitMs: 0 });
    s.addStream('a');
    s.addStream('b');
    s.push(frame('a', 0));
    s.push(frame('b', 0));
    assert.equal(s.removeStream('a').length, 1);
    assert.deepEqual(
      s.next(0).batch.map((f) => f.streamId),
      ['b'],
    );
    assert.throws(() => s.push(frame('a', 1)), /unknown stream a/);
  });

  test('removing a held stream forgets the hold, and the same id can be added again empty', () => {
    const s = new Scheduler({ maxBatch: 4, maxWaitMs: 0 });
    s.addStream('a');
    s.push(frame('a', 0));
    s.hold('a', true);
    assert.equal(s.removeStream('a').length, 1);
    assert.deepEqual(s.removeStream('a'), [], 'removing an unknown stream returns nothing');
    s.addStream('a');
    assert.equal(s.pending, 0);
    s.push(frame('a', 1));
    assert.deepEqual(
      s.next(0).batch.map((f) => f.seq),
      [1],
    );
  });

  test('maxWaitMs can change while running', () => {
    const s = new Scheduler({ maxBatch: 4, maxWaitMs: 50 });
    s.addStream('a');
    s.push(frame('a', 0, 100));
    assert.equal(s.next(110).waitMs, 40);
    s.maxWaitMs = 5;
    assert.equal(s.next(110).batch.length, 1);
    assert.throws(() => {
      s.maxWaitMs = -1;
    }, RangeError);
  });

  test('rejects bad options', () => {
    assert.throws(() => new Scheduler({ maxBatch: 0 }), RangeError);
    assert.throws(() => new Scheduler({ maxWaitMs: -1 }), RangeError);
  });
});

describe('StreamMeter', async () => {
  const { StreamMeter } = await import('./stream-meter.ts');
  test('reports the rate over its window and latency percentiles', () => {
    const m = new StreamMeter(100, 1000);
    for (let i = 0; i < 30; i++) m.record(i * 100, i);
    assert.ok(Math.abs(m.fps(2900) - 10) < 0.5, `fps ${m.fps(2900)}`);
    assert.equal(m.percentile(50), 14);
    assert.equal(m.percentile(95), 28);
    assert.equal(m.fps(10_000), 0, 'a stalled stream reads 0 fps');
  });
});
