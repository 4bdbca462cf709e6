import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EdgeRuntime, parseMot } from '@sightline/edge';
import { type FrameResult, parseEdgeConfig } from '@sightline/shared';
import { iou, media, waitForResults } from './helpers.ts';

const WIDTH = 768;
const HEIGHT = 576;

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sightline-e2e-pipeline-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function inside(box: readonly number[], slack = 1): boolean {
  const [x1, y1, x2, y2] = box as [number, number, number, number];
  return x1 >= -slack && y1 >= -slack && x2 <= WIDTH + slack && y2 <= HEIGHT + slack && x2 > x1 && y2 > y1;
}

describe('edge runtime end to end on vtest_h264.mp4', () => {
  test('100 frames: in-order results, person tracks with stable ids, stage timings, JSONL + MOT sinks', async () => {
    const jsonl = join(dir, 'one.jsonl');
    const motDir = join(dir, 'mot-one');
    const runtime = new EdgeRuntime(
      parseEdgeConfig({
        edgeId: 'e2e',
        streams: [{ id: 'vtest', source: media('vtest_h264.mp4'), realtime: false }],
        detector: { classes: ['person'] },
        sinks: [
          { type: 'jsonl', path: jsonl },
          { type: 'mot', dir: motDir },
        ],
      }),
    );
    const all: FrameResult[] = [];
    runtime.on('result', (r) => all.push(r));
    try {
      await runtime.start();
      await waitForResults(runtime, 'vtest', 100, 120_000);
    } finally {
      await runtime.close();
    }
    // Results that were in flight when close() was called may still have been emitted (and written).
    assert.ok(all.length >= 100 && all.length < 100 + 40, `${all.length} results`);
    const results = all.slice(0, 100);
    assert.deepEqual(
      results.map((r) => r.seq),
      Array.from({ length: 100 }, (_, i) => i),
      'results arrive in seq order 0..99 without gaps',
    );
    assert.deepEqual(
      all.map((r) => r.seq),
      Array.from({ length: all.length }, (_, i) => i),
    );

    let detections = 0;
    let framesWithPerson = 0;
    const ids = new Set<number>();
    for (const r of results) {
      assert.equal(r.streamId, 'vtest');
      assert.deepEqual([r.width, r.height], [WIDTH, HEIGHT]);
      if (r.seq > 0) assert.ok(r.pts > results[r.seq - 1]!.pts, 'pts increases');
      for (const d of r.detections) {
        assert.equal(d.label, 'person');
        assert.ok(d.score >= 0.5 && d.score <= 1, `score ${d.score}`);
        assert.ok(inside(d.box), `detection box ${d.box} inside ${WIDTH}x${HEIGHT}`);
      }
      detections += r.detections.length;
      if (r.detections.length > 0) framesWithPerson++;
      for (const t of r.tracks) {
        assert.equal(t.label, 'person');
        assert.ok(Number.isInteger(t.trackId) && t.trackId >= 1);
        assert.ok(inside(t.box, 8), `track box ${t.box} inside ${WIDTH}x${HEIGHT}`);
        ids.add(t.trackId);
      }
      const tm = r.timings;
      for (const key of ['decodeMs', 'preprocessMs', 'inferMs', 'totalMs'] as const) {
        assert.ok(typeof tm[key] === 'number' && tm[key]! > 0, `${key} = ${tm[key]} on frame ${r.seq}`);
      }
      for (const key of ['queueMs', 'postprocessMs', 'trackMs'] as const) {
        assert.ok(typeof tm[key] === 'number' && tm[key]! >= 0, `${key} = ${tm[key]} on frame ${r.seq}`);
      }
      assert.ok(tm.totalMs! >= tm.inferMs!, 'total covers inference');
    }
    // DATA.md: YOLOX-nano finds persons in every sampled vtest frame, about 6-7 per frame at conf 0.4.
    assert.ok(framesWithPerson >= 95, `persons in ${framesWithPerson}/100 frames`);
    const perFrame = detections / 100;
    assert.ok(perFrame >= 2 && perFrame <= 20, `${perFrame.toFixed(1)} persons per frame`);
    // Roughly 5-15 people visible at a time over 10 s of video: far fewer ids than detections.
    assert.ok(ids.size >= 5 && ids.size <= 40, `${ids.size} distinct track ids`);
    const tracked = results.slice(10).filter((r) => r.tracks.length > 0).length;
    assert.ok(tracked >= 85, `tracks reported on ${tracked}/90 frames after warm-up`);

    // Stable ids: a track present in frames t and t+1 barely moves between them (10 fps walkers).
    let continuations = 0;
    let stable = 0;
    for (let i = 1; i < results.length; i++) {
      const prev = new Map(results[i - 1]!.tracks.map((t) => [t.trackId, t.box]));
      for (const t of results[i]!.tracks) {
        const p = prev.get(t.trackId);
        if (!p) continue;
        continuations++;
        if (iou(p, t.box) > 0.5) stable++;
      }
    }
    assert.ok(continuations >= 200, `${continuations} track continuations`);
    assert.ok(stable / continuations >= 0.9, `${stable}/${continuations} continuations with IoU > 0.5`);

    // The sinks hold exactly what was emitted.
    const lines = readFileSync(jsonl, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, all.length);
    const parsed = lines.map((l) => JSON.parse(l) as FrameResult);
    assert.deepEqual(
      parsed.map((r) => r.seq),
      all.map((r) => r.seq),
    );
    assert.deepEqual(
      parsed.map((r) => r.tracks.length),
      all.map((r) => r.tracks.length),
    );
    assert.deepEqual(parsed[42]!.detections, all[42]!.detections);
    const mot = parseMot(readFileSync(join(motDir, 'vtest.txt'), 'utf8'), 'vtest.txt');
    const trackCount = all.reduce((n, r) => n + r.tracks.length, 0);
    assert.equal(mot.length, trackCount);
    for (const r of all) {
      const rows = mot.filter((m) => m.frame === r.seq + 1);
      assert.deepEqual(
        rows.map((m) => m.id),
        r.tracks.map((t) => t.trackId),
        `MOT frame ${r.seq + 1}`,
      );
      r.tracks.forEach((t, k) => {
        assert.ok(
          Math.abs(rows[k]!.x - t.box[0]) <= 0.01 && Math.abs(rows[k]!.w - (t.box[2] - t.box[0])) <= 0.02,
        );
      });
    }
  });

  test('two streams of the same file at once both complete, each with its own tracker ids from 1', async () => {
    const jsonl = join(dir, 'two.jsonl');
    const motDir = join(dir, 'mot-two');
    const FRAMES = 60;
    const runtime = new EdgeRuntime(
      parseEdgeConfig({
        edgeId: 'e2e-two',
        streams: [
          { id: 'a', source: media('vtest_h264.mp4'), realtime: false, maxFrames: FRAMES },
          { id: 'b', source: media('vtest_h264.mp4'), realtime: false, maxFrames: FRAMES },
        ],
        detector: { classes: ['person'] },
        sinks: [
          { type: 'jsonl', path: jsonl },
          { type: 'mot', dir: motDir },
        ],
      }),
    );
    const byStream: Record<string, FrameResult[]> = { a: [], b: [] };
    runtime.on('result', (r) => byStream[r.streamId]!.push(r));
    const ended = new Promise<void>((resolve) => runtime.once('end', resolve));
    try {
      await runtime.start();
      await Promise.race([
        ended,
        new Promise((_, reject) =>
          setTimeout(
            () => reject(new Error(`no end after 120 s: ${JSON.stringify(runtime.stats())}`)),
            120_000,
          ).unref(),
        ),
      ]);
    } finally {
      await runtime.close();
    }
    for (const id of ['a', 'b']) {
      const rs = byStream[id]!;
      assert.deepEqual(
        rs.map((r) => r.seq),
        Array.from({ length: FRAMES }, (_, i) => i),
        `stream ${id} completes in order`,
      );
      const trackIds = new Set(rs.flatMap((r) => r.tracks.map((t) => t.trackId)));
      assert.equal(Math.min(...trackIds), 1, `stream ${id} track ids start at 1`);
      // Ids are dense per stream (1..n, never shared or skipped).
      assert.equal(Math.max(...trackIds), trackIds.size, `stream ${id} ids ${[...trackIds]}`);
    }
    // Same input, separate trackers: both streams see the same detections and make the same tracks.
    assert.deepEqual(
      byStream.a!.map((r) => r.tracks.map((t) => t.trackId)),
      byStream.b!.map((r) => r.tracks.map((t) => t.trackId)),
    );
    const stats = runtime.stats();
    for (const s of stats) {
      assert.equal(s.state, 'ended');
      assert.equal(s.framesDecoded, FRAMES);
      assert.equal(s.framesInferred, FRAMES);
      assert.equal(s.droppedOverflow + s.droppedStale, 0, 'an unpaced file never drops');
    }
    const lines = readFileSync(jsonl, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 2 * FRAMES);
    const perStream = { a: 0, b: 0 } as Record<string, number>;
    for (const l of lines) perStream[(JSON.parse(l) as FrameResult).streamId]!++;
    assert.deepEqual(perStream, { a: FRAMES, b: FRAMES });
    for (const id of ['a', 'b']) {
      const mot = parseMot(readFileSync(join(motDir, `${id}.txt`), 'utf8'), `${id}.txt`);
      const tracks = byStream[id]!.reduce((n, r) => n + r.tracks.length, 0);
      assert.equal(mot.length, tracks, `MOT lines of ${id}`);
      assert.ok(mot.every((m) => m.frame >= 1 && m.frame <= FRAMES));
    }
  });
});
