import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff } from './backoff.ts';

test('doubles from initialDelayMs up to maxDelayMs and resets', () => {
  const b = new Backoff({ initialDelayMs: 500, maxDelayMs: 10_000, jitter: 0 });
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7].map(() => b.next()),
    [500, 1000, 2000, 4000, 8000, 10_000, 10_000],
  );
  assert.equal(b.attempt, 7);
  b.reset();
  assert.equal(b.next(), 500);
});

test('defaults are 500 ms, x2, 10 s cap, +-20 % jitter', () => {
  const low = new Backoff({}, () => 0);
  const high = new Backoff({}, () => 1);
  assert.deepEqual([low.next(), low.next()], [400, 800]);
  assert.deepEqual([high.next(), high.next()], [600, 1200]);
  for (let i = 0; i < 10; i++) high.next();
  assert.equal(high.next(), 10_000, 'jitter never goes past the cap');
});

test('rejects bad options with RangeError naming the option', () => {
  assert.throws(() => new Backoff({ initialDelayMs: -1 }), {
    name: 'RangeError',
    message: 'Expected a number >= 0 for initialDelayMs but received -1 of type number',
  });
  assert.throws(() => new Backoff({ initialDelayMs: 1000, maxDelayMs: 10 }), {
    name: 'RangeError',
    message: /maxDelayMs/,
  });
  assert.throws(() => new Backoff({ factor: 0.5 }), { name: 'RangeError', message: /factor/ });
  assert.throws(() => new Backoff({ jitter: 2 }), { name: 'RangeError', message: /jitter/ });
  assert.throws(() => new Backoff({ factor: Number.NaN }), { name: 'RangeError', message: /factor/ });
});
