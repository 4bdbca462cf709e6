import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, parseEdgeConfig, type StreamStats } from '@sightline/shared';
import { register as globalRegistry } from 'prom-client';
import { createEdgeMetrics } from './edge-metrics.ts';
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
    assert.match(
      text,
      /^sightline_edge_stream_latency_seconds\{edge="e1",stream="a",quantile="0.95"\} 0.12$/m,
    );
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
  test('GET /metrics and /health; 404 JSON otherwise; close() stops it', async () => {
    const metrics = createEdgeMetrics(
      { edgeId: 'e1', modelId: 'm', provider: 'cpu', stats: () => [stream('a')] },
      { defaultMetrics: false },
    );
    const server = await startMetricsServer({ port: 0, registry: metrics.registry });
    try {
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${server.url}/metrics`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), metrics.registry.contentType);
      assert.match(await res.text(), /sightline_edge_frames_decoded_total\{edge="e1",stream="a"\} 10/);
      const health = await fetch(`${server.url}/health`);
      assert.deepEqual([health.status, await health.json()], [200, { status: 'ok' }]);
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
    const first = await startMetricsServer({ port: 0, registry: metrics.registry });
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
