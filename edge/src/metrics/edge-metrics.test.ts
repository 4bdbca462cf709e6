import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, test } from 'node:test';
import {
  ConfigError,
  type FrameResult,
  type HealthReport,
  parseEdgeConfig,
  type StreamStats,
} from '@sightline/shared';
import { register as globalRegistry } from 'prom-client';
import { createEdgeMetrics, type EdgeMetricsSource } from './edge-metrics.ts';
import { startMetricsServer } from './metrics-server.ts';

function stream(id: string, over: Partial<StreamStats> = {}): StreamStats {
  return {
    streamId: id,
    source: `${id}.mp4`,
    state: 'running',
    framesDecoded: 10,
    framesInferred: 8,
    droppedOverflow: 1,
    droppedStale: 2,
    inferErrors: 0,
    fps: 9.5,
    latencyP50Ms: 40,
    latencyP95Ms: 120,
    activeTracks: 3,
    reconnects: 0,
    ...over,
  };
}

/** A runtime stand-in that emits results like an EdgeRuntime. */
function source(
  streams: () => StreamStats[],
): EdgeMetricsSource & { frame(streamId: string, totalMs: number): void } {
  const events = new EventEmitter();
  return {
    edgeId: 'e1',
    modelId: 'm',
    provider: 'cpu',
    stats: streams,
    on: (event, listener) => events.on(event, listener),
    frame(streamId, totalMs) {
      const r = { streamId, seq: 0, pts: 0, width: 1, height: 1, capturedAt: 0, detections: [], tracks: [] };
      events.emit('result', { ...r, timings: { totalMs } } satisfies FrameResult);
    },
  };
}

describe('createEdgeMetrics', () => {
  test('per-stream values from stats() at each scrape, in its own registry', async () => {
    let streams = [stream('a'), stream('b', { state: 'stopped' })];
    const metrics = createEdgeMetrics(
      { edgeId: 'e1', modelId: 'yolox_nano', provider: 'cpu', stats: () => streams },
      { defaultMetrics: false },
    );
    const text = await metrics.registry.metrics();
    assert.match(text, /^sightline_edge_frames_decoded_total\{edge="e1",stream="a"\} 10$/m);
    assert.match(text, /^# TYPE sightline_edge_frames_decoded_total counter$/m);
    assert.match(text, /^sightline_edge_frames_dropped_total\{edge="e1",stream="a",reason="stale"\} 2$/m);
    assert.doesNotMatch(text, /quantile/, 'no gauge imitating a summary');
    assert.match(text, /^sightline_edge_stream_up\{edge="e1",stream="a"\} 1$/m);
    assert.match(text, /^sightline_edge_stream_up\{edge="e1",stream="b"\} 0$/m);
    assert.match(text, /^sightline_edge_info\{edge="e1",model="yolox_nano",provider="cpu"\} 1$/m);
    assert.equal(
      await globalRegistry.getSingleMetricAsString('sightline_edge_stream_up').catch(() => ''),
      '',
    );

    streams = [stream('a', { framesDecoded: 25 })];
    const later = await metrics.registry.metrics();
    assert.match(later, /^sightline_edge_frames_decoded_total\{edge="e1",stream="a"\} 25$/m);
    assert.doesNotMatch(later, /stream="b"/, 'a removed stream disappears');
  });

  test('stream latency is a histogram observed per frame result, summable across streams and edges', async () => {
    let streams = [stream('a'), stream('b')];
    const src = source(() => streams);
    const metrics = createEdgeMetrics(src, { defaultMetrics: false });
    for (const ms of [8, 40, 120, 3000]) src.frame('a', ms);
    const text = await metrics.registry.metrics();
    assert.match(text, /^# TYPE sightline_edge_stream_latency_seconds histogram$/m);
    const a = (line: string) => new RegExp(`^sightline_edge_stream_latency_seconds_${line}$`, 'm');
    assert.match(text, a('bucket{le="0.01",edge="e1",stream="a"} 1'));
    assert.match(text, a('bucket{le="0.05",edge="e1",stream="a"} 2'));
    assert.match(text, a('bucket{le="0.15",edge="e1",stream="a"} 3'));
    assert.match(text, a('bucket{le="2.5",edge="e1",stream="a"} 3'));
    assert.match(text, a('bucket{le="5",edge="e1",stream="a"} 4'));
    assert.match(text, a('bucket{le="10",edge="e1",stream="a"} 4'));
    assert.match(text, a('bucket{le="\\+Inf",edge="e1",stream="a"} 4'));
    assert.match(text, a('sum{edge="e1",stream="a"} 3.168'));
    assert.match(text, a('count{edge="e1",stream="a"} 4'));
    assert.match(text, a('count{edge="e1",stream="b"} 0'), 'a stream without frames yet has its series');
    assert.doesNotMatch(text, /quantile/);
    src.frame('a', 60);
    assert.match(await metrics.registry.metrics(), a('count{edge="e1",stream="a"} 5'));
    streams = [stream('a')];
    assert.doesNotMatch(await metrics.registry.metrics(), /stream="b"/, 'a removed stream disappears');
  });

  test('registerCounter mirrors a running count as a _total counter that never goes down', async () => {
    const metrics = createEdgeMetrics(
      { edgeId: 'e1', modelId: 'm', provider: 'cpu', stats: () => [] },
      { defaultMetrics: false },
    );
    let dropped = 0;
    metrics.registerCounter('sightline_edge_outbox_dropped_total', 'Batches dropped.', () => dropped);
    const value = async () => {
      const text = await metrics.registry.metrics();
      assert.match(text, /^# TYPE sightline_edge_outbox_dropped_total counter$/m);
      return Number(/^sightline_edge_outbox_dropped_total\{edge="e1"\} (\S+)$/m.exec(text)?.[1]);
    };
    assert.equal(await value(), 0);
    dropped = 3;
    assert.equal(await value(), 3);
    assert.equal(await value(), 3, 'a scrape without change adds nothing');
    dropped = 5;
    assert.equal(await value(), 5);
    dropped = 2; // its source started again from 0 and counted 2 since
    assert.equal(await value(), 7);
    assert.throws(
      () => metrics.registerCounter('sightline_edge_outbox_dropped_total', 'x', () => 1),
      /already/,
    );
    assert.throws(() => metrics.registerCounter('sightline_edge_uplink_acked', 'x', () => 1), /_total/);
    assert.throws(() => metrics.registerGauge('sightline_edge_uplink_acked_total', 'x', () => 1), /counter/);
  });

  test('readiness: one check per stream by its state, plus registered checks; the worst wins', () => {
    let streams = [stream('a'), stream('b', { state: 'reconnecting', lastError: 'connection refused' })];
    const metrics = createEdgeMetrics(
      { edgeId: 'e1', modelId: 'm', provider: 'cpu', stats: () => streams },
      { defaultMetrics: false },
    );
    let hub: 'ok' | 'unavailable' = 'unavailable';
    metrics.registerCheck('hub', () => ({ status: hub, detail: hub === 'ok' ? 'connected' : 'connecting' }));
    assert.throws(() => metrics.registerCheck('hub', () => ({ status: 'ok' })), /already/);
    let r = metrics.readiness();
    assert.equal(r.status, 'unavailable');
    assert.deepEqual(Object.keys(r).sort(), ['checks', 'status', 'uptimeSeconds', 'version']);
    assert.match(r.version, /^\d+\.\d+\.\d+/);
    assert.deepEqual(r.checks, {
      hub: { status: 'unavailable', detail: 'connecting' },
      'stream:a': { status: 'ok', detail: 'running' },
      'stream:b': { status: 'degraded', detail: 'reconnecting: connection refused' },
    });
    hub = 'ok';
    assert.equal(metrics.readiness().status, 'degraded', 'a reconnecting stream degrades, still ready');
    streams = [stream('a'), stream('b', { state: 'stopped' }), stream('c', { state: 'ended' })];
    assert.equal(metrics.readiness().status, 'ok');
    streams = [stream('a'), stream('b', { state: 'failed', lastError: 'no such file' })];
    r = metrics.readiness();
    assert.equal(r.status, 'degraded', 'a failed stream degrades the edge; the others go on');
    assert.deepEqual(r.checks['stream:b'], { status: 'degraded', detail: 'failed: no such file' });
    metrics.registerCheck('broken', () => {
      throw new Error('boom');
    });
    assert.equal(metrics.readiness().checks.broken?.status, 'unavailable');
  });

  test('registerGauge adds a gauge read at each scrape; names are unique', async () => {
    const metrics = createEdgeMetrics(
      { edgeId: 'e1', modelId: 'm', provider: 'cpu', stats: () => [] },
      { defaultMetrics: false },
    );
    let size = 4;
    metrics.registerGauge('sightline_edge_outbox_batches', 'Batches waiting in the outbox.', () => size);
    assert.match(await metrics.registry.metrics(), /^sightline_edge_outbox_batches\{edge="e1"\} 4$/m);
    size = 7;
    assert.match(await metrics.registry.metrics(), /^sightline_edge_outbox_batches\{edge="e1"\} 7$/m);
    assert.throws(() => metrics.registerGauge('sightline_edge_outbox_batches', 'again', () => 1), /already/);
  });

  test('two edges in one process keep separate registries with default metrics', async () => {
    const a = createEdgeMetrics({ edgeId: 'a', modelId: 'm', provider: 'cpu', stats: () => [] });
    const b = createEdgeMetrics({ edgeId: 'b', modelId: 'm', provider: 'cpu', stats: () => [] });
    assert.notEqual(a.registry, b.registry);
    assert.match(await a.registry.metrics(), /^sightline_edge_process_cpu_seconds_total /m);
    assert.match(await b.registry.metrics(), /^sightline_edge_info\{edge="b"/m);
  });
});

describe('startMetricsServer', () => {
  test('GET /health (liveness) and /ready (readiness): one shape, 200 or 503 with Retry-After', async () => {
    let state: StreamStats['state'] = 'running';
    const metrics = createEdgeMetrics(
      { edgeId: 'e1', modelId: 'm', provider: 'cpu', stats: () => [stream('a', { state })] },
      { defaultMetrics: false },
    );
    let connected = false;
    metrics.registerCheck('hub', () =>
      connected ? { status: 'ok', detail: 'connected' } : { status: 'unavailable', detail: 'disconnected' },
    );
    const server = await startMetricsServer({
      port: 0,
      registry: metrics.registry,
      readiness: metrics.readiness,
    });
    try {
      const get = async (path: string) => {
        const res = await fetch(server.url + path);
        return {
          status: res.status,
          retryAfter: res.headers.get('retry-after'),
          body: (await res.json()) as HealthReport,
        };
      };
      const health = await get('/health');
      assert.equal(health.status, 200);
      assert.deepEqual(Object.keys(health.body).sort(), ['checks', 'status', 'uptimeSeconds', 'version']);
      assert.equal(health.body.status, 'ok');
      assert.ok(health.body.uptimeSeconds > 0);

      let ready = await get('/ready');
      assert.equal(ready.status, 503);
      assert.equal(ready.retryAfter, '5');
      assert.deepEqual(Object.keys(ready.body).sort(), Object.keys(health.body).sort());
      assert.equal(ready.body.status, 'unavailable');
      assert.deepEqual(ready.body.checks.hub, { status: 'unavailable', detail: 'disconnected' });
      assert.deepEqual(ready.body.checks['stream:a'], { status: 'ok', detail: 'running' });
      assert.equal((await get('/health')).status, 200, 'liveness does not follow readiness');

      connected = true;
      ready = await get('/ready');
      assert.deepEqual([ready.status, ready.retryAfter, ready.body.status], [200, null, 'ok']);
      state = 'reconnecting';
      ready = await get('/ready');
      assert.deepEqual([ready.status, ready.body.status], [200, 'degraded']);
      state = 'failed';
      ready = await get('/ready');
      assert.deepEqual([ready.status, ready.body.status], [200, 'degraded']);
      connected = false;
      assert.equal((await get('/ready')).status, 503);
      const post = await fetch(`${server.url}/ready`, { method: 'POST' });
      assert.equal(post.status, 405);
      await post.body?.cancel();
    } finally {
      await server.close();
    }
  });

  test('GET /metrics and /health; 404 JSON otherwise; close() stops it', async () => {
    const metrics = createEdgeMetrics(
      { edgeId: 'e1', modelId: 'm', provider: 'cpu', stats: () => [stream('a')] },
      { defaultMetrics: false },
    );
    const server = await startMetricsServer({
      port: 0,
      registry: metrics.registry,
      readiness: metrics.readiness,
    });
    try {
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${server.url}/metrics`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), metrics.registry.contentType);
      assert.match(await res.text(), /sightline_edge_frames_decoded_total\{edge="e1",stream="a"\} 10/);
      const health = await fetch(`${server.url}/health`);
      assert.equal(health.status, 200);
      assert.equal(((await health.json()) as HealthReport).status, 'ok');
      const missing = await fetch(`${server.url}/nope`);
      assert.equal(missing.status, 404);
      assert.equal(((await missing.json()) as { error: string }).error, 'not found');
      const post = await fetch(`${server.url}/metrics`, { method: 'POST' });
      assert.equal(post.status, 405);
      await post.body?.cancel();
    } finally {
      await server.close();
      await server.close();
    }
    await assert.rejects(fetch(`${server.url}/health`));
  });

  test('a port in use rejects', async () => {
    const metrics = createEdgeMetrics(
      { edgeId: 'e1', modelId: 'm', provider: 'cpu', stats: () => [] },
      { defaultMetrics: false },
    );
    const first = await startMetricsServer({
      port: 0,
      registry: metrics.registry,
      readiness: metrics.readiness,
    });
    try {
      const port = Number(new URL(first.url).port);
      await assert.rejects(startMetricsServer({ port, registry: metrics.registry }), /EADDRINUSE/);
    } finally {
      await first.close();
    }
  });
});

describe('metrics config', () => {
  test('off by default; a bad port is a ConfigError naming the field', () => {
    assert.equal(parseEdgeConfig({ streams: [{ source: 'a.mp4' }] }).metrics, undefined);
    const on = parseEdgeConfig({ streams: [{ source: 'a.mp4' }], metrics: { port: 9464 } });
    assert.deepEqual(on.metrics, { port: 9464, host: '127.0.0.1' });
    for (const port of [70000, -1, 1.5, '9464']) {
      assert.throws(
        () => parseEdgeConfig({ streams: [{ source: 'a.mp4' }], metrics: { port } }),
        (err: unknown) => err instanceof ConfigError && err.issues.some((i) => i.startsWith('metrics.port:')),
        `port ${port}`,
      );
    }
  });
});
