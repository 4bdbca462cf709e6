import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { EdgeAgent, EdgeRuntime, type TrackThumbnail } from '@sightline/edge';
import {
  ConfigError,
  type EdgeConfigInput,
  type FrameResult,
  parseEdgeConfig,
  SightlineError,
  type StreamStats,
} from '@sightline/shared';
import sharp from 'sharp';
import { media, statsOf, waitForResults, waitForStreamState } from './helpers.ts';

const VIDEO = (): string => media('vtest_h264.mp4');

/** A live-like stream: the sample file paced at its 10 fps, looping. */
function live(id: string): { id: string; source: string; realtime: true; loop: true } {
  return { id, source: VIDEO(), realtime: true, loop: true };
}

async function withRuntime(
  config: Omit<EdgeConfigInput, 'edgeId'>,
  fn: (runtime: EdgeRuntime) => Promise<void>,
): Promise<void> {
  const runtime = new EdgeRuntime(parseEdgeConfig({ edgeId: 'e2e-control', ...config }));
  try {
    await runtime.start();
    await fn(runtime);
  } finally {
    await runtime.close();
  }
}

/** An edge agent without a hub: the runtime plus the metrics server it serves (metrics.port). */
async function withAgent(
  config: Omit<EdgeConfigInput, 'edgeId'>,
  fn: (runtime: EdgeRuntime, agent: EdgeAgent) => Promise<void>,
): Promise<void> {
  const agent = await EdgeAgent.start(parseEdgeConfig({ edgeId: 'e2e-control', ...config }));
  try {
    await fn(agent.runtime, agent);
  } finally {
    await agent.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function untilEnd(runtime: EdgeRuntime, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no end after ${ms} ms: ${JSON.stringify(runtime.stats())}`)),
      ms,
    );
    runtime.once('end', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Parse Prometheus text exposition: every sample line is `name{labels} value` (prom-client writes NaN as Nan, which Prometheus accepts). */
function parseExposition(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.e+-]+|NaN|Nan|[+-]Inf)$/.exec(line);
    assert.ok(m, `exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[4]) });
  }
  return samples;
}

describe('edge runtime control: streams at run time', () => {
  test('add a stream while running, then remove the first: the other keeps producing', async () => {
    await withRuntime({ streams: [live('a')], detector: { classes: ['person'] } }, async (runtime) => {
      await waitForResults(runtime, 'a', 3, 20_000);
      const states: string[] = [];
      runtime.on('stream-state', (id, state) => {
        if (id === 'b') states.push(state);
      });
      const added = await runtime.addStream(live('b'));
      assert.equal(added.streamId, 'b');
      await waitForResults(runtime, 'b', 3, 20_000);
      assert.deepEqual(states, ['starting', 'running']);
      assert.deepEqual(
        runtime.config.streams.map((s) => s.id),
        ['a', 'b'],
      );

      await assert.rejects(runtime.addStream(live('b')), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /id: stream "b" already exists/);
        return true;
      });
      await assert.rejects(runtime.addStream({ id: 'c' } as never), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /source:/);
        return true;
      });
      await assert.rejects(runtime.addStream({ ...live('c'), fps: 3 } as never), /fps: unknown field/);
      await assert.rejects(runtime.removeStream('nope'), (err: unknown) => {
        assert.ok(err instanceof SightlineError);
        assert.equal(err.code, 'STREAM_UNKNOWN');
        return true;
      });

      await runtime.removeStream('a');
      let lateA = 0;
      runtime.on('result', (r) => {
        if (r.streamId === 'a') lateA++;
      });
      assert.deepEqual(
        runtime.stats().map((s) => s.streamId),
        ['b'],
      );
      assert.deepEqual(
        runtime.config.streams.map((s) => s.id),
        ['b'],
      );
      await waitForResults(runtime, 'b', 5, 20_000);
      assert.equal(lateA, 0, 'a removed stream publishes nothing more');
      // The id is free again.
      await runtime.addStream({ ...live('a'), maxFrames: 3 });
      await waitForResults(runtime, 'a', 3, 20_000);
    });
  });

  test('stop then start a stream: stopped holds back end, start resumes with a fresh source', async () => {
    await withRuntime({ streams: [live('a')], detector: { classes: ['person'] } }, async (runtime) => {
      const states: StreamStats['state'][] = [];
      runtime.on('stream-state', (id, state) => {
        if (id === 'a') states.push(state);
      });
      let ended = false;
      runtime.on('end', () => {
        ended = true;
      });
      await waitForResults(runtime, 'a', 5, 20_000);
      const stopped = await runtime.stopStream('a');
      assert.equal(stopped.state, 'stopped');
      const decoded = stopped.framesDecoded;
      let after = 0;
      runtime.on('result', () => after++);
      await sleep(400);
      assert.equal(after, 0, 'no results once stopped');
      assert.equal(statsOf(runtime, 'a').state, 'stopped');
      assert.equal(statsOf(runtime, 'a').framesDecoded, decoded);
      assert.equal(ended, false, "a stopped stream does not count as finished for 'end'");
      assert.equal((await runtime.stopStream('a')).state, 'stopped', 'stopping twice is harmless');

      await runtime.startStream('a');
      await waitForStreamState(runtime, 'a', 'running', 20_000);
      const resumed = await waitForResults(runtime, 'a', 3, 20_000);
      assert.equal(resumed[0]!.seq, 0, 'a fresh source numbers frames from 0');
      assert.deepEqual(states.slice(states.indexOf('stopped')), ['stopped', 'starting', 'running']);
      assert.ok(statsOf(runtime, 'a').framesDecoded > decoded, 'counters carry on across a restart');
      await assert.rejects(runtime.startStream('zz'), { code: 'STREAM_UNKNOWN' });
    });
  });

  test('an ended stream starts again; the runtime ends again after it', async () => {
    await withRuntime(
      { streams: [{ id: 'a', source: VIDEO(), realtime: false, maxFrames: 5 }] },
      async (runtime) => {
        await untilEnd(runtime, 20_000);
        assert.equal(statsOf(runtime, 'a').state, 'ended');
        const again = untilEnd(runtime, 20_000);
        await runtime.startStream('a');
        await again;
        assert.equal(statsOf(runtime, 'a').framesDecoded, 10);
        assert.equal(statsOf(runtime, 'a').framesInferred, 10);
      },
    );
  });

  test('deepsort, unpaced: remove / stop / start while frames and embeddings are in flight', async () => {
    const unpaced = (id: string) => ({ id, source: VIDEO(), realtime: false, loop: true });
    await withRuntime(
      {
        streams: [unpaced('a'), unpaced('b')],
        detector: { classes: ['person'] },
        tracker: { type: 'deepsort' },
      },
      async (runtime) => {
        await Promise.all([waitForResults(runtime, 'a', 5, 30_000), waitForResults(runtime, 'b', 5, 30_000)]);
        const seqs: number[] = [];
        runtime.on('result', (r) => {
          if (r.streamId === 'b') seqs.push(r.seq);
        });
        await runtime.removeStream('a');
        await runtime.stopStream('b');
        const stoppedAt = seqs.length;
        await sleep(200);
        assert.equal(seqs.length, stoppedAt, 'nothing published by a stopped stream');
        await runtime.startStream('b');
        await waitForResults(runtime, 'b', 10, 30_000);
        const resumed = seqs.slice(stoppedAt);
        assert.deepEqual(
          resumed.slice(0, 10),
          Array.from({ length: 10 }, (_, i) => i),
          'in order from 0 after the restart',
        );
        assert.equal(runtime.stageStats().reid!.failures, 0);
        assert.ok(runtime.stageStats().reid!.crops > 0);
      },
    );
  });

  test('control calls before start() or after close() reject', async () => {
    const runtime = new EdgeRuntime(parseEdgeConfig({ streams: [live('a')] }));
    await assert.rejects(runtime.addStream(live('b')), /not started/);
    await runtime.close();
    await assert.rejects(runtime.stopStream('a'));
  });
});

describe('edge runtime control: applyConfig', () => {
  test('detector.confidence applies live; restart-only fields and invalid patches change nothing', async () => {
    await withRuntime(
      { streams: [live('a')], detector: { classes: ['person'], confidence: 0.3 } },
      async (runtime) => {
        const before = await waitForResults(runtime, 'a', 10, 20_000);
        const low = (rs: FrameResult[]) =>
          rs.flatMap((r) => r.detections).filter((d) => d.score < 0.6).length;
        assert.ok(low(before) > 0, 'some detections between 0.3 and 0.6 at confidence 0.3');

        const events: string[][] = [];
        runtime.on('config-applied', (c) => events.push(c.applied));
        const { applied } = await runtime.applyConfig({ detector: { confidence: 0.6 } });
        assert.deepEqual(applied, ['detector.confidence']);
        assert.deepEqual(events, [['detector.confidence']]);
        assert.equal(runtime.config.detector.confidence, 0.6);
        const after = await waitForResults(runtime, 'a', 10, 20_000);
        assert.equal(low(after), 0, 'no detection under the new confidence');
        assert.ok(after.some((r) => r.detections.length > 0));

        const config = runtime.config;
        await assert.rejects(
          runtime.applyConfig({
            detector: { confidence: 0.7, model: 'yolox_s' },
            inference: { sessions: 4 },
          }),
          (err: unknown) => {
            assert.ok(err instanceof SightlineError);
            assert.equal(err.code, 'CONFIG_RESTART_REQUIRED');
            assert.match(err.message, /detector\.model/);
            assert.match(err.message, /inference\.sessions/);
            assert.doesNotMatch(err.message, /detector\.confidence/);
            return true;
          },
        );
        await assert.rejects(
          runtime.applyConfig({ detector: { confidence: 'high' } } as never),
          (err: unknown) => {
            assert.ok(err instanceof ConfigError);
            assert.match(err.message, /detector\.confidence:/);
            return true;
          },
        );
        await assert.rejects(
          runtime.applyConfig({ bogus: 1, detector: { conf: 1 } } as never),
          (err: unknown) => {
            assert.ok(err instanceof ConfigError);
            assert.match(err.message, /bogus: unknown field/);
            assert.match(err.message, /detector\.conf: unknown field/);
            return true;
          },
        );
        await assert.rejects(runtime.applyConfig([1] as never), ConfigError);
        assert.equal(runtime.config, config, 'rejected patches leave the config as it was');
        assert.equal(events.length, 1);

        const tuned = await runtime.applyConfig({
          inference: { maxWaitMs: 20 },
          tracker: { maxAge: 10 },
          thumbnails: { every: 2 },
        });
        assert.deepEqual(tuned.applied.sort(), ['inference.maxWaitMs', 'thumbnails.every', 'tracker.maxAge']);
        assert.equal(runtime.config.tracker.maxAge, 10);
        assert.deepEqual(await runtime.applyConfig({ detector: { confidence: 0.6 } }), { applied: [] });
        await waitForResults(runtime, 'a', 3, 20_000);
      },
    );
  });

  test('streams diff by id: added, restarted when changed, removed when missing', async () => {
    await withRuntime({ streams: [live('a'), live('b')] }, async (runtime) => {
      await waitForResults(runtime, 'b', 2, 20_000);
      const { applied } = await runtime.applyConfig({
        streams: [live('a'), { ...live('b'), stalenessMs: 2000 }, live('c')],
      });
      assert.deepEqual(applied, ['streams.b', 'streams.c']);
      await Promise.all([waitForResults(runtime, 'b', 2, 20_000), waitForResults(runtime, 'c', 2, 20_000)]);
      const removed = await runtime.applyConfig({ streams: [live('c')] });
      assert.deepEqual(removed.applied, ['streams.a', 'streams.b']);
      assert.deepEqual(
        runtime.stats().map((s) => s.streamId),
        ['c'],
      );
      await waitForResults(runtime, 'c', 2, 20_000);
    });
  });
});

describe('edge metrics', () => {
  test('/metrics while running: the frame counters increase and the text parses as Prometheus exposition', async () => {
    await withAgent({ streams: [live('a')], metrics: { port: 0 } }, async (runtime, agent) => {
      const url = agent.metricsUrl;
      assert.ok(url?.startsWith('http://127.0.0.1:'), url);
      await waitForResults(runtime, 'a', 3, 20_000);
      const scrape = async () => {
        const res = await fetch(`${url}/metrics`);
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
        return parseExposition(await res.text());
      };
      const value = (samples: ReturnType<typeof parseExposition>, name: string) =>
        samples.find((s) => s.name === name && s.labels.stream === 'a' && s.labels.edge === 'e2e-control')
          ?.value;
      const first = await scrape();
      await waitForResults(runtime, 'a', 3, 20_000);
      const second = await scrape();
      const d1 = value(first, 'sightline_edge_frames_decoded_total')!;
      const d2 = value(second, 'sightline_edge_frames_decoded_total')!;
      assert.ok(d1 > 0 && d2 > d1, `frames decoded ${d1} -> ${d2}`);
      assert.ok(value(second, 'sightline_edge_frames_inferred_total')! > 0);
      assert.equal(value(second, 'sightline_edge_stream_up'), 1);
      assert.ok(second.some((s) => s.name === 'sightline_edge_process_resident_memory_bytes'));
      assert.ok(
        second.some((s) => s.name === 'sightline_edge_frames_dropped_total' && s.labels.reason === 'stale'),
      );
      // End-to-end latency: a histogram observed per frame (no quantile gauge).
      const latencyCount = value(second, 'sightline_edge_stream_latency_seconds_count')!;
      assert.ok(latencyCount > 0, `latency observations ${latencyCount}`);
      assert.ok(value(second, 'sightline_edge_stream_latency_seconds_sum')! > 0);
      const inf = second.find(
        (s) =>
          s.name === 'sightline_edge_stream_latency_seconds_bucket' &&
          s.labels.stream === 'a' &&
          s.labels.le === '+Inf',
      );
      assert.equal(inf?.value, latencyCount);
      const text = await (await fetch(`${url}/metrics`)).text();
      assert.match(text, /^# TYPE sightline_edge_stream_latency_seconds histogram$/m);
      assert.doesNotMatch(text, /quantile=/);
      await runtime.stopStream('a');
      assert.equal(value(await scrape(), 'sightline_edge_stream_up'), 0);
      const health = await fetch(`${url}/health`);
      assert.equal(health.status, 200);
      assert.equal(((await health.json()) as { status: string }).status, 'ok');
      // Readiness of an edge without a hub: a stopped stream is fine.
      const ready = await fetch(`${url}/ready`);
      assert.equal(ready.status, 200);
      const checks = ((await ready.json()) as { checks: Record<string, { status: string; detail?: string }> })
        .checks;
      assert.deepEqual(checks['stream:a'], { status: 'ok', detail: 'stopped' });
    });
  });
});

describe('edge thumbnails', () => {
  test('a short run emits valid JPEG thumbnails of tracks, one per clear improvement', async () => {
    const thumbs: TrackThumbnail[] = [];
    const results: FrameResult[] = [];
    await withRuntime(
      {
        streams: [{ id: 'a', source: VIDEO(), realtime: false, maxFrames: 60 }],
        detector: { classes: ['person'] },
      },
      async (runtime) => {
        runtime.on('thumbnail', (t) => thumbs.push(t));
        runtime.on('result', (r) => results.push(r));
        await untilEnd(runtime, 30_000);
      },
    );
    assert.ok(thumbs.length >= 3, `${thumbs.length} thumbnails`);
    const best = new Map<number, number>();
    let tall = 0;
    for (const t of thumbs) {
      assert.equal(t.streamId, 'a');
      const j = t.jpeg;
      assert.deepEqual([j[0], j[1]], [0xff, 0xd8], 'JPEG start');
      assert.deepEqual([j[j.length - 2], j[j.length - 1]], [0xff, 0xd9], 'JPEG end');
      assert.equal(t.sha256, createHash('sha256').update(j).digest('hex'));
      const meta = await sharp(j).metadata();
      assert.equal(meta.format, 'jpeg');
      assert.ok(meta.width! >= 4 && meta.height! >= 10 && Math.max(meta.width!, meta.height!) <= 256);
      if (meta.height! > meta.width!) tall++;
      const prev = best.get(t.trackId);
      assert.ok(prev === undefined || t.score > prev * 1.1, `track ${t.trackId}: ${prev} -> ${t.score}`);
      best.set(t.trackId, t.score);
      const frame = results.find((r) => r.capturedAt === t.ts);
      assert.ok(frame, 'ts is the capturedAt of a result');
      const track = frame.tracks.find((x) => x.trackId === t.trackId);
      assert.ok(track && track.status === 'confirmed' && track.timeSinceUpdate === 0);
      assert.ok(frame.seq % 5 === 0, 'one frame in 5 is considered');
    }
    assert.ok(tall >= thumbs.length * 0.8, `${tall}/${thumbs.length} person crops taller than wide`);
  });

  test('with re-ID (deepsort) thumbnails come from the same pixel copy, cut from the taller re-ID frames', async () => {
    const thumbs: TrackThumbnail[] = [];
    await withRuntime(
      {
        streams: [{ id: 'a', source: VIDEO(), realtime: false, maxFrames: 30 }],
        detector: { classes: ['person'] },
        tracker: { type: 'deepsort' },
      },
      async (runtime) => {
        runtime.on('thumbnail', (t) => thumbs.push(t));
        await untilEnd(runtime, 60_000);
      },
    );
    assert.ok(thumbs.length >= 1, `${thumbs.length} thumbnails`);
    for (const t of thumbs) {
      assert.equal(t.sha256, createHash('sha256').update(t.jpeg).digest('hex'));
      assert.equal((await sharp(t.jpeg).metadata()).format, 'jpeg');
    }
  });

  test('none while thumbnails.enabled is false; applyConfig turns them on live', async () => {
    const thumbs: TrackThumbnail[] = [];
    await withRuntime(
      { streams: [live('a')], detector: { classes: ['person'] }, thumbnails: { enabled: false } },
      async (runtime) => {
        runtime.on('thumbnail', (t) => thumbs.push(t));
        await waitForResults(runtime, 'a', 30, 20_000);
        assert.equal(thumbs.length, 0);
        const { applied } = await runtime.applyConfig({ thumbnails: { enabled: true, every: 1 } });
        assert.deepEqual(applied.sort(), ['thumbnails.enabled', 'thumbnails.every']);
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('no thumbnail within 20 s')), 20_000);
          runtime.once('thumbnail', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      },
    );
    assert.ok(thumbs.length >= 1);
  });
});
