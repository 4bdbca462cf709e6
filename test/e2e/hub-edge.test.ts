/**
 * Hub + edge end to end, over the real uplink: enrollment, fleet status, commands (add / stop / start / remove a
 * stream, push a config change), thumbnails and similar-track search; on both store backends.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EdgeAgent } from '@sightline/edge';
import { type HubServer, startHub } from '@sightline/hub';
import { testBackends } from '@sightline/hub/testing';
import { parseEdgeConfig } from '@sightline/shared';
import { media, until } from '../helpers/wait.ts';
import { modelsDir } from './helpers.ts';

const backends = await testBackends('hub_edge');

interface EdgeView {
  edgeId: string;
  status: string;
  connected: boolean;
  version: string;
  load?: { outboxMessages: number };
  streams: { streamId: string; state?: string; framesInferred?: number; tracksStored: number }[];
  config?: { detector?: { confidence?: number } };
}

for (const backend of backends) {
  describe(`hub + edge over the uplink on ${backend.name}`, { skip: backend.skip, timeout: 180_000 }, () => {
    const loc = backend.create();
    const stateDir = mkdtempSync(join(tmpdir(), 'sightline-edge-state-'));
    let hub: HubServer;
    let agent: EdgeAgent;
    let operator: string;
    let viewer: string;

    const api = async <T>(path: string, init: RequestInit & { token?: string } = {}) => {
      const res = await fetch(hub.url + path, {
        ...init,
        headers: {
          authorization: `Bearer ${init.token ?? operator}`,
          ...(init.body ? { 'content-type': 'application/json' } : {}),
        },
      });
      const body = res.headers.get('content-type')?.includes('json')
        ? await res.json()
        : await res.arrayBuffer();
      return { status: res.status, body: body as T };
    };
    const edge = async () => (await api<EdgeView>('/api/v1/edges/edge-e2e', { token: viewer })).body;

    before(async () => {
      hub = await startHub({ port: 0, ...loc, heartbeatMs: 300 });
      operator = (await hub.tokens.create({ role: 'operator' })).token;
      viewer = (await hub.tokens.create({ role: 'viewer' })).token;
      const enrollmentToken = (await hub.tokens.create({ role: 'enroll', edgeId: 'edge-e2e' })).token;
      agent = await EdgeAgent.start(
        parseEdgeConfig({
          edgeId: 'edge-e2e',
          modelsDir: modelsDir(),
          streams: [{ id: 'cam1', source: media('vtest_h264.mp4'), loop: true, realtime: true }],
          tracker: { type: 'deepsort' },
          inference: { sessions: 1 },
          thumbnails: { every: 2 },
          hub: { url: hub.url, enrollmentToken, stateDir, flushMs: 200 },
        }),
      );
    });
    after(async () => {
      await agent?.close();
      await hub?.close();
      await backend.dispose(loc);
      rmSync(stateDir, { recursive: true, force: true });
    });

    test('the enrolled edge shows up online with its stream, live counts and stored tracks', async () => {
      const view = await until('edge online with stored tracks', 60_000, async () => {
        const e = await edge();
        const s = e?.streams?.find((x) => x.streamId === 'cam1');
        return e?.status === 'online' && s && (s.framesInferred ?? 0) > 0 && s.tracksStored > 0
          ? e
          : undefined;
      });
      assert.equal(view.connected, true);
      assert.match(view.version, /^\d+\.\d+\.\d+/);
      const list = (await api<{ edges: EdgeView[] }>('/api/v1/edges', { token: viewer })).body;
      assert.deepEqual(
        list.edges.map((e) => e.edgeId),
        ['edge-e2e'],
      );
    });

    test('stop, start, add and remove streams from the hub; the edge reports each change', async () => {
      const stop = await api('/api/v1/edges/edge-e2e/streams/cam1/stop', { method: 'POST' });
      assert.equal(stop.status, 200, JSON.stringify(stop.body));
      await until('cam1 stopped', 10_000, async () =>
        (await edge()).streams.find((s) => s.streamId === 'cam1')?.state === 'stopped' ? true : undefined,
      );
      const start = await api('/api/v1/edges/edge-e2e/streams/cam1/start', { method: 'POST' });
      assert.equal(start.status, 200, JSON.stringify(start.body));
      const add = await api('/api/v1/edges/edge-e2e/streams', {
        method: 'POST',
        body: JSON.stringify({ id: 'cam2', source: media('vtest_h264.mp4'), loop: true }),
      });
      assert.equal(add.status, 200, JSON.stringify(add.body));
      await until('cam2 running', 30_000, async () => {
        const s = (await edge()).streams.find((x) => x.streamId === 'cam2');
        return (s?.framesInferred ?? 0) > 0 ? true : undefined;
      });
      const dup = await api<{ error: { code: string; message: string } }>('/api/v1/edges/edge-e2e/streams', {
        method: 'POST',
        body: JSON.stringify({ id: 'cam2', source: media('vtest_h264.mp4') }),
      });
      assert.equal(dup.status, 422);
      assert.match(dup.body.error.message, /cam2/);
      // A file outside the edge's media folder is refused by the edge's source policy, and the API says so at once.
      const outside = await api<{ error: { code: string; message: string } }>(
        '/api/v1/edges/edge-e2e/streams',
        {
          method: 'POST',
          body: JSON.stringify({ id: 'cam3', source: 'file:///etc/passwd' }),
        },
      );
      assert.equal(outside.status, 422, JSON.stringify(outside.body));
      assert.equal(outside.body.error.code, 'SOURCE_REFUSED');
      assert.doesNotMatch(outside.body.error.message, /exist|no such/i);
      const remove = await api('/api/v1/edges/edge-e2e/streams/cam2', { method: 'DELETE' });
      assert.equal(remove.status, 200, JSON.stringify(remove.body));
      await until('cam2 gone from live streams', 10_000, async () =>
        (await edge()).streams.find((s) => s.streamId === 'cam2')?.state === undefined ? true : undefined,
      );
      const unknown = await api<{ error: { code: string } }>('/api/v1/edges/edge-e2e/streams/nope/stop', {
        method: 'POST',
      });
      assert.equal(unknown.status, 422);
    });

    test('a pushed config change applies without a restart and is reported back; a restart-only field is refused', async () => {
      const ok = await api<{ ok: boolean; data: { applied: string[] } }>('/api/v1/edges/edge-e2e/config', {
        method: 'PATCH',
        body: JSON.stringify({ detector: { confidence: 0.6 } }),
      });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.deepEqual(ok.body.data.applied, ['detector.confidence']);
      assert.equal(agent.runtime.config.detector.confidence, 0.6);
      assert.equal((await edge()).config?.detector?.confidence, 0.6);
      const refused = await api<{ error: { code: string; message: string } }>(
        '/api/v1/edges/edge-e2e/config',
        {
          method: 'PATCH',
          body: JSON.stringify({ detector: { model: 'yolov8n_int8' } }),
        },
      );
      assert.equal(refused.status, 422);
      assert.match(refused.body.error.message, /detector\.model/);
      assert.equal(agent.runtime.config.detector.model, 'yolox_nano');
      const malformed = await api('/api/v1/edges/edge-e2e/config', {
        method: 'PATCH',
        body: JSON.stringify({ detector: { confidence: 'high' } }),
      });
      assert.equal(malformed.status, 422);
    });

    test('tracks carry thumbnails; search by a track finds other tracks with scores, filters narrow it', async () => {
      type Track = { id: string; label: string; thumbnail?: string; streamId: string };
      const withThumb = await until('a person track with a thumbnail and embeddings', 90_000, async () => {
        const { body } = await api<{ tracks: Track[] }>('/api/v1/tracks?label=person&limit=200', {
          token: viewer,
        });
        for (const t of body.tracks.filter((x) => x.thumbnail)) {
          const r = await api<{ results: unknown[] }>('/api/v1/search', {
            method: 'POST',
            token: viewer,
            body: JSON.stringify({ track: t.id, k: 3 }),
          });
          if (r.status === 200 && r.body.results.length > 0) return t;
        }
        return undefined;
      });
      const jpeg = await api<ArrayBuffer>(withThumb.thumbnail!, { token: viewer });
      assert.equal(jpeg.status, 200);
      const bytes = new Uint8Array(jpeg.body);
      assert.deepEqual([...bytes.subarray(0, 3)], [0xff, 0xd8, 0xff]);
      const search = await api<{ results: (Track & { score: number })[] }>('/api/v1/search', {
        method: 'POST',
        token: viewer,
        body: JSON.stringify({ track: withThumb.id, k: 5 }),
      });
      assert.equal(search.status, 200);
      const results = search.body.results;
      assert.ok(results.length >= 1 && results.length <= 5);
      assert.ok(!results.some((r) => r.id === withThumb.id), 'the query track itself is left out');
      for (let i = 1; i < results.length; i++) assert.ok(results[i - 1]!.score >= results[i]!.score);
      for (const r of results) assert.ok(r.score > -1 && r.score <= 1.0001);
      const none = await api<{ results: unknown[] }>('/api/v1/search', {
        method: 'POST',
        token: viewer,
        body: JSON.stringify({ track: withThumb.id, k: 5, filters: { streamId: 'no-such-stream' } }),
      });
      assert.deepEqual(none.body.results, []);
      const wrongDims = await api<{ error: { message: string } }>('/api/v1/search', {
        method: 'POST',
        token: viewer,
        body: JSON.stringify({ embedding: [1, 0, 0], k: 5 }),
      });
      assert.equal(wrongDims.status, 400);
      assert.match(wrongDims.body.error.message, /512/);
    });

    test('edge /metrics carries stream counters, the latency histogram and the uplink metrics', async () => {
      const text = await agent.runtime.metrics.registry.metrics();
      assert.match(text, /^sightline_edge_uplink_connected\{[^}]*\} 1$/m);
      assert.match(text, /^# TYPE sightline_edge_uplink_acked_total counter$/m);
      assert.match(text, /^sightline_edge_uplink_acked_total\{[^}]*\} [1-9]\d*$/m);
      assert.match(text, /^# TYPE sightline_edge_outbox_dropped_total counter$/m);
      assert.match(text, /^sightline_edge_outbox_dropped_total\{edge="edge-e2e"\} 0$/m);
      assert.match(text, /^# TYPE sightline_edge_stream_latency_seconds histogram$/m);
      assert.match(
        text,
        /^sightline_edge_stream_latency_seconds_count\{edge="edge-e2e",stream="cam1"\} [1-9]\d*$/m,
      );
      assert.doesNotMatch(text, /quantile=/);
      assert.deepEqual(agent.runtime.metrics.readiness().checks.hub, {
        status: 'ok',
        detail: `connected to ${hub.url}`,
      });
      const hubText = await (await api<ArrayBuffer>('/metrics', { token: viewer })).body;
      assert.match(new TextDecoder().decode(hubText), /^sightline_hub_track_points_stored_total [1-9]\d*$/m);
    });
  });
}
