import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ClosedError, SinkError } from '@sightline/shared';
import { readMotFile } from '../tracking/mot-format.ts';
import { createSink } from './create-sink.ts';
import { MotSink } from './mot-sink.ts';
import { frameResult, track } from './test-results.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mot-sink-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const isSinkError = (re: RegExp) => (e: unknown) =>
  e instanceof SinkError && e.code === 'SINK_FAILED' && re.test(e.message);

describe('MotSink', () => {
  test('writes one MOTChallenge file per stream that parses back', async () => {
    const out = join(dir, 'run1');
    const sink = await createSink({ type: 'mot', dir: out });
    const results = [
      frameResult('cam1', 0, [track(1, 10.5, 20.25), track(2, 100, 50)]),
      frameResult('cam2', 0, []),
      frameResult('cam1', 1, [track(1, 12.333, 21)]),
      frameResult('cam2', 7, [track(1, 0, 0, { score: 0.5 })]),
    ];
    for (const r of results) sink.write(r);
    await sink.flush();
    assert.deepEqual((await readdir(out)).sort(), ['cam1.txt', 'cam2.txt']);
    const cam1 = await readMotFile(join(out, 'cam1.txt'));
    const want = results
      .filter((r) => r.streamId === 'cam1')
      .flatMap((r) => r.tracks.map((t) => ({ seq: r.seq, t })));
    assert.equal(cam1.length, want.length);
    cam1.forEach((rec, i) => {
      const { seq, t } = want[i]!;
      assert.equal(rec.frame, seq + 1);
      assert.equal(rec.id, t.trackId);
      assert.ok(Math.abs(rec.x - t.box[0]) <= 0.005);
      assert.ok(Math.abs(rec.y - t.box[1]) <= 0.005);
      assert.ok(Math.abs(rec.w - (t.box[2] - t.box[0])) <= 0.005);
      assert.ok(Math.abs(rec.h - (t.box[3] - t.box[1])) <= 0.005);
      assert.ok(Math.abs(rec.conf - t.score) <= 0.005);
      assert.deepEqual(rec.extra, [-1, -1, -1]);
    });
    const cam2 = await readMotFile(join(out, 'cam2.txt'));
    assert.deepEqual(
      cam2.map((r) => [r.frame, r.id, r.conf]),
      [[8, 1, 0.5]],
    );
    await sink.close();
    await sink.close();
    assert.throws(() => sink.write(results[0]!), ClosedError);
  });

  test('a stream with results but no tracks gets an empty file; reopening truncates', async () => {
    const out = join(dir, 'run2');
    let sink = await MotSink.open(out);
    sink.write(frameResult('camA', 0, [track(1, 0, 0)]));
    await sink.close();
    sink = await MotSink.open(out);
    sink.write(frameResult('camA', 0, []));
    await sink.close();
    assert.deepEqual(await readMotFile(join(out, 'camA.txt')), []);
  });

  test('rejects a stream id that is not a safe file name', async () => {
    const sink = await MotSink.open(join(dir, 'run3'));
    assert.throws(
      () => sink.write(frameResult('../escape', 0, [])),
      /Expected a stream id .* received "\.\.\/escape"/,
    );
    await sink.close();
  });

  test('a directory that is a file or cannot be created gives a SinkError naming it', async () => {
    const file = join(dir, 'not-a-dir');
    await writeFile(file, 'x');
    await assert.rejects(
      MotSink.open(file),
      isSinkError(/Cannot use .*not-a-dir as the MOT output directory/),
    );
    await assert.rejects(MotSink.open(join(file, 'sub')), isSinkError(/not-a-dir\/sub/));
    await assert.rejects(
      createSink({ type: 'mot', dir: '/proc/sightline-no-such' }),
      isSinkError(/\/proc\/sightline-no-such/),
    );
  });
});
