import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EdgeRuntime } from '@sightline/edge';
import { ConfigError, type FrameResult, ModelError, parseEdgeConfig } from '@sightline/shared';
import { freePort } from '../fixtures/rtsp-server.ts';
import {
  MAX_RESULT_GAP_MS,
  media,
  modelsDir,
  ResultGapMeter,
  statsOf,
  waitForResults,
  waitForRuntime,
  waitForStreamState,
} from './helpers.ts';

const YOLOX_SHA256 = 'd39bee73564e338080378b0ad567fbb40e818b55bbfaf971de82a0267ed16b8a';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sightline-e2e-faults-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('bad streams fail with clear errors while a good stream keeps producing results', () => {
  let runtime: EdgeRuntime;
  let meter: ResultGapMeter;
  let rtspUrl: string;
  let ended = false;
  const truncated: FrameResult[] = [];

  before(async () => {
    writeFileSync(join(dir, 'notes.mp4'), 'These are meeting notes, not a video.\n'.repeat(20));
    const mp4 = readFileSync(media('vtest_h264.mp4'));
    writeFileSync(join(dir, 'truncated.mp4'), mp4.subarray(0, Math.floor(mp4.length / 2)));
    rtspUrl = `rtsp://127.0.0.1:${await freePort()}/x`;
    runtime = new EdgeRuntime(
      parseEdgeConfig({
        edgeId: 'e2e-faults',
        streams: [
          { id: 'good', source: media('vtest_h264.mp4'), realtime: true, loop: true },
          { id: 'missing', source: join(dir, 'missing.mp4') },
          { id: 'notmedia', source: join(dir, 'notes.mp4') },
          { id: 'truncated', source: join(dir, 'truncated.mp4'), realtime: false },
          { id: 'nobody', source: rtspUrl },
        ],
        detector: { classes: ['person'] },
      }),
    );
    meter = new ResultGapMeter(runtime, 'good');
    runtime.on('result', (r) => {
      if (r.streamId === 'truncated') truncated.push(r);
    });
    runtime.once('end', () => {
      ended = true;
    });
    await runtime.start();
    await waitForResults(runtime, 'good', 3, 60_000);
    meter.begin();
  });

  after(async () => {
    await runtime?.close();
  });

  // First, while the backoff delays are still short (0.5 s doubling, +-20 %, up to 10 s).
  test('an RTSP URL with nothing listening: reconnecting, reconnects counting up, SOURCE_UNREACHABLE', async () => {
    await waitForStreamState(runtime, 'nobody', 'reconnecting', 30_000);
    const first = statsOf(runtime, 'nobody').reconnects;
    assert.ok(first >= 1);
    // The state stays 'reconnecting' between attempts (no event), so poll the counter.
    const want = Math.max(first + 1, 3);
    const deadline = Date.now() + 30_000;
    while (statsOf(runtime, 'nobody').reconnects < want && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    const s = statsOf(runtime, 'nobody');
    assert.equal(s.state, 'reconnecting');
    assert.ok(s.reconnects >= want, `reconnects ${first} -> ${s.reconnects}`);
    assert.match(s.lastError ?? '', /^SOURCE_UNREACHABLE: /);
    assert.ok(s.lastError!.includes(rtspUrl), s.lastError);
    assert.equal(s.framesDecoded, 0);
  });

  test('a missing file: failed, SOURCE_INVALID "No such file" naming the path', async () => {
    await waitForStreamState(runtime, 'missing', 'failed', 20_000);
    const s = statsOf(runtime, 'missing');
    assert.equal(s.state, 'failed');
    assert.equal(s.lastError, `SOURCE_INVALID: No such file: ${join(dir, 'missing.mp4')}`);
    assert.equal(s.framesDecoded, 0);
  });

  test('a text file renamed .mp4: failed, SOURCE_INVALID "not a media file" naming the path', async () => {
    await waitForStreamState(runtime, 'notmedia', 'failed', 20_000);
    const s = statsOf(runtime, 'notmedia');
    assert.match(s.lastError ?? '', /^SOURCE_INVALID: .*not a media file/);
    assert.ok(s.lastError!.includes(join(dir, 'notes.mp4')), s.lastError);
    assert.equal(s.framesDecoded, 0);
  });

  test('a truncated mp4: the frames it holds, in order, then ended (or failed with DECODE_FAILED/SOURCE_INVALID)', async (t) => {
    const stats = statsOf(runtime, 'truncated');
    if (stats.state !== 'ended' && stats.state !== 'failed') {
      await waitForRuntime(
        runtime,
        'stream-state',
        ((id: string, s: string) =>
          id === 'truncated' && (s === 'ended' || s === 'failed') ? s : undefined) as never,
        90_000,
        'truncated to end',
      );
    }
    const s = statsOf(runtime, 'truncated');
    t.diagnostic(`truncated: ${s.state} after ${s.framesDecoded} frames; lastError ${s.lastError ?? 'none'}`);
    // Half of the bytes hold roughly half of the 795 frames; every decoded frame is inferred (unpaced: no drops).
    assert.ok(s.framesDecoded > 300 && s.framesDecoded < 795, `decoded ${s.framesDecoded} frames`);
    // Frames queued when the source ended still finish; wait for them.
    const missing = s.framesDecoded - truncated.length;
    if (missing > 0) await waitForResults(runtime, 'truncated', missing, 30_000);
    assert.equal(truncated.length, s.framesDecoded);
    assert.deepEqual(
      truncated.map((r) => r.seq),
      Array.from({ length: truncated.length }, (_, i) => i),
    );
    assert.equal(s.droppedOverflow + s.droppedStale, 0);
    if (s.state === 'failed') {
      assert.match(s.lastError ?? '', /^(DECODE_FAILED|SOURCE_INVALID): /);
    }
    if (s.lastError) assert.ok(s.lastError.includes('truncated.mp4'), s.lastError);
  });

  test('the good stream kept producing results the whole time, and the runtime did not end', (t) => {
    const gap = meter.end();
    t.diagnostic(`good stream: ${meter.results} results, largest gap ${gap.toFixed(0)} ms`);
    const good = statsOf(runtime, 'good');
    assert.equal(good.state, 'running');
    assert.equal(good.lastError, undefined);
    assert.equal(good.inferErrors, 0);
    assert.ok(meter.results > 20, `good stream produced ${meter.results} results`);
    assert.ok(gap < MAX_RESULT_GAP_MS, `largest gap between good results was ${gap.toFixed(0)} ms`);
    assert.equal(ended, false, "'end' is not emitted while a stream still runs");
  });
});

describe('startup faults', () => {
  test('a model file with a wrong sha256 rejects start() with MODEL_CHECKSUM and starts no stream', async () => {
    const models = join(dir, 'models');
    mkdirSync(models);
    const bad = join(models, 'yolox_nano.onnx');
    copyFileSync(join(modelsDir(), 'yolox_nano.onnx'), bad);
    const bytes = readFileSync(bad);
    bytes[bytes.length >> 1]! ^= 0xff;
    writeFileSync(bad, bytes);
    const runtime = new EdgeRuntime(
      parseEdgeConfig({
        modelsDir: models,
        streams: [{ id: 'cam', source: media('vtest_h264.mp4') }],
      }),
    );
    const states: string[] = [];
    runtime.on('stream-state', (id, s) => states.push(`${id}:${s}`));
    try {
      await assert.rejects(runtime.start(), (err: unknown) => {
        assert.ok(err instanceof ModelError, String(err));
        assert.equal(err.code, 'MODEL_CHECKSUM');
        assert.ok(err.message.includes(bad), err.message);
        assert.ok(err.message.includes(`expected ${YOLOX_SHA256}`), err.message);
        assert.match(err.message, /right size but the wrong content/);
        return true;
      });
      assert.deepEqual(runtime.stats(), [], 'no stream was started');
      assert.deepEqual(states, []);
      assert.equal(runtime.provider, 'none', 'no inference pool was started');
    } finally {
      await runtime.close();
    }
  });

  test('close() during start() waits for it and leaves nothing running; start() after close() rejects with CLOSED', async () => {
    const config = parseEdgeConfig({ streams: [{ id: 'cam', source: media('vtest_h264.mp4') }] });
    const runtime = new EdgeRuntime(config);
    const states: string[] = [];
    runtime.on('stream-state', (id, s) => states.push(`${id}:${s}`));
    const starting = runtime.start();
    await runtime.close();
    await starting;
    assert.equal(runtime.provider, 'none', 'no inference pool was started after close()');
    assert.deepEqual(runtime.stats(), [], 'no stream was started after close()');
    assert.deepEqual(states, []);
    const closed = new EdgeRuntime(config);
    await closed.close();
    await assert.rejects(closed.start(), { code: 'CLOSED' });
  });

  test('an invalid config gives one ConfigError listing every bad field path', () => {
    assert.throws(
      () => parseEdgeConfig({ streams: [] }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.code, 'CONFIG_INVALID');
        assert.deepEqual(err.issues, [
          'streams: at least one stream is needed (or a hub or whip ingest that adds them)',
        ]);
        return true;
      },
    );
    assert.throws(
      () =>
        parseEdgeConfig(
          {
            streams: [{ source: 'a.mp4', stalenessMs: -5 }, { source: '' }],
            inference: { providers: ['cpu', 'tpu'], sessions: 0, thread: 2 },
            detector: { confidence: 2 },
            sinks: [{ type: 'csv', path: 'x.csv' }],
            colour: 'blue',
          },
          'edge.yaml',
        ),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const paths = err.issues.map((i) => i.split(':')[0]);
        for (const p of [
          'streams.0.stalenessMs',
          'streams.1.source',
          'inference.providers.1',
          'inference.sessions',
          'detector.confidence',
          'sinks.0.type',
          'colour',
          'inference.thread',
        ]) {
          assert.ok(paths.includes(p), `${p} in ${JSON.stringify(err.issues)}`);
        }
        assert.ok(err.issues.includes('colour: unknown field'), JSON.stringify(err.issues));
        assert.ok(err.message.startsWith('Invalid edge.yaml'), err.message);
        for (const issue of err.issues)
          assert.ok(err.message.includes(issue), 'the message lists every issue');
        return true;
      },
    );
    assert.throws(
      () =>
        parseEdgeConfig({
          streams: [
            { id: 'x', source: 'a.mp4' },
            { id: 'x', source: 'b.mp4' },
          ],
        }),
      { name: 'ConfigError', message: /streams\.1\.id: duplicate stream id "x"/ },
    );
  });
});

describe('inference faults', () => {
  test('every inference timing out: inferErrors counts the frames in stats, lastError says why, end fires', async () => {
    // No CPU run answers within 1 ms: each request times out, the session restarts until the pool gives up.
    const runtime = new EdgeRuntime(
      parseEdgeConfig({
        edgeId: 'e2e-timeouts',
        streams: [{ id: 'cam', source: media('vtest_h264.mp4'), realtime: false, maxFrames: 40 }],
        inference: { sessions: 1, requestTimeoutMs: 1 },
      }),
    );
    const ended = new Promise<void>((resolve) => runtime.once('end', resolve));
    try {
      await runtime.start();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        ended,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no 'end': ${JSON.stringify(runtime.stats())}`)), 90_000);
        }),
      ]).finally(() => clearTimeout(timer));
      const s = statsOf(runtime, 'cam');
      assert.equal(s.framesInferred, 0);
      assert.ok(s.inferErrors >= 4, `inferErrors ${s.inferErrors}: a request per session start at least`);
      assert.ok(s.inferErrors <= s.framesDecoded);
      assert.match(s.lastError ?? '', /INFERENCE_(TIMEOUT|FAILED): .*answered no request for 1 ms/);
    } finally {
      await runtime.close();
    }
  });
});
