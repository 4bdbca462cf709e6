import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeKey, type QueuedFrame, takeBatch } from './batcher.ts';
import { ThroughputMeter } from './meter.ts';

describe('takeBatch', () => {
  test('takes the oldest frames sharing the head frame’s thresholds, at most maxBatch; the rest keep their order', () => {
    const a = decodeKey({ confidence: 0.5, iou: 0.45 });
    const b = decodeKey({ confidence: 0.5, iou: 0.45, classes: ['person'] });
    const q: QueuedFrame<string>[] = [
      { job: 'e1', index: 0, key: a },
      { job: 'e2', index: 0, key: b },
      { job: 'e3', index: 0, key: a },
      { job: 'e3', index: 1, key: a },
      { job: 'e4', index: 0, key: a },
    ];
    assert.deepEqual(
      takeBatch(q, 3).map((f) => `${f.job}/${f.index}`),
      ['e1/0', 'e3/0', 'e3/1'],
    );
    assert.deepEqual(
      q.map((f) => f.job),
      ['e2', 'e4'],
    );
    assert.deepEqual(
      takeBatch(q, 3).map((f) => f.job),
      ['e2'],
    );
    assert.deepEqual(
      takeBatch(q, 3).map((f) => f.job),
      ['e4'],
    );
    assert.deepEqual(takeBatch(q, 3), []);
  });
});

describe('ThroughputMeter', () => {
  test('rate covers the period since the last call; capacity is the best second or the frames per busy second', () => {
    let now = 1_000_000;
    const m = new ThroughputMeter(() => now);
    assert.equal(m.capacity(), 0);
    m.busy(true);
    now += 500;
    m.record(10);
    m.busy(false);
    now += 1500;
    assert.equal(m.rate(), 5, '10 frames in 2 s');
    assert.equal(m.capacity(), 20, '10 frames in 0.5 busy s');
    now += 1000;
    assert.equal(m.rate(), 0);
  });
});
