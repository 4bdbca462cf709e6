import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FrameResult } from '@sightline/shared';
import type { EncodedPacket } from '../frame.ts';
import { FrameHold, type HoldOutcome } from './frame-hold.ts';

const packet = (pts: number): EncodedPacket => ({
  streamId: 's',
  codec: 'h264',
  data: new Uint8Array([0, 0, 0, 1, 0x41]),
  pts,
  dts: pts,
  keyframe: false,
});
const result = (pts: number): FrameResult =>
  ({
    streamId: 's',
    seq: pts / 10,
    pts,
    width: 1,
    height: 1,
    capturedAt: 0,
    detections: [],
    tracks: [],
    timings: {},
  }) as FrameResult;

function hold(opts: { holdMs?: number; maxFrames?: number } = {}) {
  let now = 0;
  const out: [number, HoldOutcome['kind']][] = [];
  const h = new FrameHold({ ...opts, now: () => now, onRelease: (f, o) => out.push([f.pts, o.kind]) });
  return { h, out, advance: (ms: number) => (now += ms) };
}

test('frames leave in decode order once their outcome is known, never reordered', () => {
  const { h, out } = hold();
  for (const pts of [0, 10, 20]) h.addPacket(packet(pts));
  h.result(result(10)); // 0 has no outcome yet but 10's result came: 0 was never decoded
  assert.deepEqual(out, [
    [0, 'timeout'],
    [10, 'result'],
  ]);
  h.dropped(20, 'stale');
  assert.deepEqual(out.at(-1), [20, 'dropped']);
  h.result(result(99));
  assert.equal(h.stats().unmatched, 1);
});

test('a newer frame dropped while older ones are in inference does not time them out', () => {
  const { h, out } = hold();
  for (const pts of [0, 10, 20, 30]) h.addPacket(packet(pts));
  // 20 and 30 went stale in the ring while 0 and 10 were being inferred (a loaded CPU): their results still come.
  h.dropped(20, 'stale');
  h.dropped(30, 'stale');
  assert.deepEqual(out, []);
  h.result(result(0));
  h.result(result(10));
  assert.deepEqual(out, [
    [0, 'result'],
    [10, 'result'],
    [20, 'dropped'],
    [30, 'dropped'],
  ]);
  assert.equal(h.stats().timedOut, 0);
});

test('holdMs timeout and the maxFrames bound', () => {
  const { h, out, advance } = hold({ holdMs: 500, maxFrames: 2 });
  h.addPacket(packet(0));
  h.addPacket(packet(0)); // same frame
  advance(499);
  h.flush();
  assert.equal(out.length, 0);
  advance(1);
  h.flush();
  assert.deepEqual(out, [[0, 'timeout']]);
  for (const pts of [10, 20, 30]) h.addPacket(packet(pts));
  assert.deepEqual(out.at(-1), [10, 'overflow']);
  assert.equal(h.size, 2);
  assert.deepEqual(h.stats(), {
    held: 2,
    released: 2,
    withResult: 0,
    dropped: 0,
    timedOut: 1,
    overflow: 1,
    unmatched: 0,
  });
});
