import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SinkError } from '@sightline/shared';
import { FailureLog } from './failure-log.ts';

function recorder() {
  const lines: { data: Record<string, unknown>; message: string }[] = [];
  return { lines, error: (data: Record<string, unknown>, message: string) => lines.push({ data, message }) };
}

test('a failure at frame rate logs once, then one summary per 10 s with the count suppressed', () => {
  const log = recorder();
  let now = 0;
  const failures = new FailureLog<string>(log, 'sink write failed', { now: () => now });
  // 25 fps for 30 s: 750 failures.
  for (let i = 0; i < 750; i++, now += 40) {
    failures.failed('mot', new SinkError(`Cannot open output file /out/cam1.txt (${i})`), {
      sink: 'MotSink',
    });
  }
  assert.equal(log.lines.length, 3, log.lines.map((l) => l.message).join('\n'));
  const [first, ...summaries] = log.lines;
  assert.match(first!.message, /^sink write failed \(repeats are summarised every 10 s\)$/);
  assert.deepEqual(first!.data, {
    sink: 'MotSink',
    err: 'SINK_FAILED: Cannot open output file /out/cam1.txt (0)',
    failures: 1,
  });
  assert.deepEqual(
    summaries.map((l) => [l.data.suppressed, l.data.failures]),
    [
      [250, 251],
      [250, 501],
    ],
  );
  assert.match(summaries[0]!.message, /^sink write failed 250 more time\(s\) since the last report$/);
  assert.match(String(summaries[1]!.data.err), /\(500\)$/, 'the latest error');
  failures.flush();
  assert.equal(log.lines.length, 4);
  assert.deepEqual([log.lines[3]!.data.suppressed, log.lines[3]!.data.failures], [249, 750]);
  failures.flush();
  assert.equal(log.lines.length, 4, 'nothing left to report');
});

test('each key is reported on its own', () => {
  const log = recorder();
  const failures = new FailureLog<object>(log, 'sink write failed', { now: () => 0 });
  const a = {};
  const b = {};
  failures.failed(a, new Error('disk full'));
  failures.failed(a, new Error('disk full'));
  failures.failed(b, new Error('closed'));
  assert.deepEqual(
    log.lines.map((l) => l.data.err),
    ['disk full', 'closed'],
  );
});
