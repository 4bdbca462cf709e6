import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClosedError, type FrameResult, nextEvent } from '@sightline/shared';
import { EmitterSink } from './emitter-sink.ts';
import { frameResult, track } from './test-results.ts';

describe('EmitterSink', () => {
  test('emits each result to every listener', async () => {
    const sink = new EmitterSink();
    const seen: FrameResult[] = [];
    sink.on('result', (r) => seen.push(r));
    const next = nextEvent(sink, 'result');
    const r0 = frameResult('cam1', 0, [track(1, 0, 0)]);
    sink.write(r0);
    sink.write(frameResult('cam1', 1, []));
    assert.deepEqual(await next, [r0]);
    assert.deepEqual(
      seen.map((r) => r.seq),
      [0, 1],
    );
    await sink.flush();
  });

  test('a listener that throws or rejects does not break the pipeline or other listeners', async () => {
    const sink = new EmitterSink();
    const seen: number[] = [];
    sink.on('result', () => {
      throw new Error('uplink bug');
    });
    sink.on('result', (r) => {
      seen.push(r.seq);
    });
    (sink as unknown as { on(n: string, l: () => Promise<void>): void }).on('result', async () => {
      throw new Error('async bug');
    });
    for (let i = 0; i < 3; i++) assert.doesNotThrow(() => sink.write(frameResult('cam1', i, [])));
    assert.deepEqual(seen, [0, 1, 2]);
    await new Promise((r) => setImmediate(r));
    assert.equal(sink.listenerErrors, 6);
  });

  test('once listeners fire once; close emits close, drops listeners and refuses writes', async () => {
    const sink = new EmitterSink();
    let onceCalls = 0;
    sink.once('result', () => onceCalls++);
    sink.write(frameResult('cam1', 0, []));
    sink.write(frameResult('cam1', 1, []));
    assert.equal(onceCalls, 1);
    let closes = 0;
    sink.on('close', () => closes++);
    await sink.close();
    await sink.close();
    assert.equal(closes, 1);
    assert.equal(sink.listenerCount('result'), 0);
    assert.throws(() => sink.write(frameResult('cam1', 2, [])), ClosedError);
  });
});
