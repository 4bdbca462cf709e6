/**
 * Two hubs, one fleet: two startHub() instances in this process on one PostgreSQL schema and one Redis prefix
 * (REDIS_URL), a real edge connected to hub A. Hub B shows it online with its streams, pushes a config change to it
 * through A, shares rate limits with A, and sends viewers to A; when the edge goes, it is offline on both.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EdgeAgent } from '@sightline/edge';
import { type HubServer, startHub } from '@sightline/hub';
import { testBackends } from '@sightline/hub/testing';
import { MEDIA_VIEW_PATH, parseEdgeConfig } from '@sightline/shared';
import { WebSocket } from 'ws';
import { deleteRedisKeys, REDIS_URL } from '../helpers/redis.ts';
import { media, until } from '../helpers/wait.ts';
import { modelsDir } from './helpers.ts';

const prefix = `test:two-hubs:${randomBytes(4).toString('hex')}:`;
const postgres = (await testBackends('two_hubs')).find((b) => b.name === 'postgres')!;

interface EdgeView {
  edgeId: string;
  status: string;
  connected: boolean;
  hub?: { id: string; url: string };
  streams: { streamId: string; state?: string; framesInferred?: number }[];
  config?: { detector?: { confidence?: number } };
}

describe('two hubs on one PostgreSQL and one Redis serve one fleet', {
  skip: postgres.skip,
  timeout: 180_000,
}, () => {
  const loc = postgres.create();
  const dataDirB = mkdtempSync(join(tmpdir(), 'sightline-two-hubs-b-'));
  const stateDir = mkdtempSync(join(tmpdir(), 'sightline-two-hubs-edge-'));
  let a: HubServer;
  let b: HubServer;
  let agent: EdgeAgent | undefined;
  let operator: string;
  let viewer: string;

  const api = async <T>(hub: HubServer, path: string, init: RequestInit & { token?: string } = {}) => {
    const res = await fetch(hub.url + path, {
      ...init,
      headers: {
        authorization: `Bearer ${init.token ?? operator}`,
        ...(init.body ? { 'content-type': 'application/json' } : {}),
      },
    });
    const body = res.headers.get('content-type')?.includes('json') ? await res.json() : await res.text();
    return { status: res.status, body: body as T };
  };
  const edgeOn = async (hub: HubServer) =>
    (await api<EdgeView>(hub, '/api/v1/edges/edge-2h', { token: viewer })).body;

  before(async () => {
    const common = {
      port: 0,
      databaseUrl: loc.databaseUrl,
      databaseSchema: loc.databaseSchema,
      heartbeatMs: 300,
      offlineAfterMs: 2000,
      redisUrl: REDIS_URL,
      // Polling at 4/s stays under it; the rate-limit test spends one token's burst across both hubs.
      rateLimit: { ratePerSec: 5, burst: 30 },
    };
    a = await startHub({ ...common, dataDir: loc.dataDir, overflow: { prefix, hubId: 'hub-a' } });
    b = await startHub({ ...common, dataDir: dataDirB, overflow: { prefix, hubId: 'hub-b' } });
    operator = (await a.tokens.create({ role: 'operator' })).token;
    viewer = (await a.tokens.create({ role: 'viewer' })).token;
    const token = (await a.tokens.create({ role: 'edge', edgeId: 'edge-2h' })).token;
    agent = await EdgeAgent.start(
      parseEdgeConfig({
        edgeId: 'edge-2h',
        modelsDir: modelsDir(),
        streams: [{ id: 'cam1', source: media('vtest_h264.mp4'), loop: true, realtime: true }],
        inference: { sessions: 1, intraOpThreads: 1 },
        hub: { url: a.url, token, stateDir, flushMs: 200 },
        webrtc: { enabled: false },
      }),
    );
  });

  after(async () => {
    await agent?.close();
    await b?.close();
    await a?.close();
    await deleteRedisKeys(prefix);
    await postgres.dispose(loc);
    rmSync(dataDirB, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  });

  test('an edge connected to hub A shows online, with its live streams, on hub B', async () => {
    const onB = await until('edge online on B with a running stream', 60_000, async () => {
      const e = await edgeOn(b);
      const s = e?.streams?.find((x) => x.streamId === 'cam1');
      return e?.status === 'online' && (s?.framesInferred ?? 0) > 0 ? e : undefined;
    });
    assert.equal(onB.connected, true);
    assert.deepEqual(onB.hub, { id: 'hub-a', url: a.url });
    const onA = await edgeOn(a);
    assert.equal(onA.status, 'online');
    assert.equal(onA.hub, undefined, 'A holds the connection itself');
    const list = (await api<{ edges: EdgeView[] }>(b, '/api/v1/edges', { token: viewer })).body;
    assert.deepEqual(
      list.edges.map((e) => [e.edgeId, e.status]),
      [['edge-2h', 'online']],
    );
  });

  test('a config push through hub B reaches the edge on hub A, and B answers with its result', async () => {
    const ok = await api<{ ok: boolean; data: { applied: string[] } }>(b, '/api/v1/edges/edge-2h/config', {
      method: 'PATCH',
      body: JSON.stringify({ detector: { confidence: 0.6 } }),
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body.data.applied, ['detector.confidence']);
    assert.equal(agent!.runtime.config.detector.confidence, 0.6);
    assert.equal((await edgeOn(b)).config?.detector?.confidence, 0.6);
    assert.equal((await edgeOn(a)).config?.detector?.confidence, 0.6);
    // The edge's refusal comes back through A as it does locally.
    const refused = await api<{ error: { code: string; message: string } }>(
      b,
      '/api/v1/edges/edge-2h/config',
      {
        method: 'PATCH',
        body: JSON.stringify({ detector: { model: 'yolov8n_int8' } }),
      },
    );
    assert.equal(refused.status, 422);
    assert.match(refused.body.error.message, /detector\.model/);
    const stop = await api(b, '/api/v1/edges/edge-2h/streams/cam1/stop', { method: 'POST' });
    assert.equal(stop.status, 200, JSON.stringify(stop.body));
    await until('cam1 stopped, seen from B', 10_000, async () =>
      (await edgeOn(b)).streams.find((s) => s.streamId === 'cam1')?.state === 'stopped' ? true : undefined,
    );
  });

  test('a viewer asking hub B for the stream is sent to hub A', async (t) => {
    if (!b.media.available) return t.skip(`live video is off here: ${b.media.unavailableReason}`);
    const res = await fetch(`${b.url}/api/v1/whep/edge-2h/cam1`, {
      method: 'POST',
      redirect: 'manual',
      headers: { authorization: `Bearer ${viewer}`, 'content-type': 'application/sdp' },
      body: 'v=0\r\n',
    });
    assert.equal(res.status, 307);
    assert.equal(res.headers.get('location'), `${a.url}/api/v1/whep/edge-2h/cam1`);
    const ws = new WebSocket(b.url.replace(/^http/, 'ws') + MEDIA_VIEW_PATH);
    const messages: { t: string; code?: string; hub?: string; key?: string }[] = [];
    ws.on('message', (d) => messages.push(JSON.parse(String(d))));
    await new Promise((ok, fail) => ws.once('open', ok).once('error', fail));
    ws.send(JSON.stringify({ t: 'auth', token: viewer }));
    ws.send(JSON.stringify({ t: 'watch', key: 'edge-2h/cam1' }));
    const hint = await until('the viewer is told where the stream is', 5000, async () =>
      messages.find((m) => m.t === 'error'),
    );
    ws.close();
    assert.deepEqual([hint.code, hint.key, hint.hub], ['STREAM_ELSEWHERE', 'edge-2h/cam1', a.url]);
  });

  test('a token’s rate limit holds across both hubs together', async () => {
    const token = (await a.tokens.create({ role: 'viewer' })).token;
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) {
      statuses.push((await api(i % 2 ? b : a, '/api/v1/edges', { token })).status);
    }
    const ok = statuses.filter((s) => s === 200).length;
    // One bucket of 30 for both hubs (plus what refills while the requests run), not 30 on each.
    assert.ok(ok >= 30 && ok <= 37, `statuses ${statuses.join(',')}`);
    assert.ok(
      statuses.some((s, i) => s === 429 && i % 2 === 0) && statuses.some((s, i) => s === 429 && i % 2 === 1),
      `both hubs refuse: ${statuses.join(',')}`,
    );
  });

  test('an edge removed through hub B is disconnected from hub A and stays out', async () => {
    const admin = (await a.tokens.create({ role: 'admin' })).token;
    const stateDirRm = mkdtempSync(join(tmpdir(), 'sightline-two-hubs-rm-'));
    const token = (await a.tokens.create({ role: 'edge', edgeId: 'edge-rm' })).token;
    const removed = await EdgeAgent.start(
      parseEdgeConfig({
        edgeId: 'edge-rm',
        modelsDir: modelsDir(),
        streams: [{ id: 'cam1', source: media('vtest_h264.mp4'), loop: true, realtime: true, maxFrames: 5 }],
        inference: { sessions: 1, intraOpThreads: 1 },
        hub: { url: a.url, token, stateDir: stateDirRm, flushMs: 200 },
        webrtc: { enabled: false },
      }),
    );
    try {
      await until('edge-rm online on B', 30_000, async () =>
        (await api<EdgeView>(b, '/api/v1/edges/edge-rm', { token: viewer })).body.connected
          ? true
          : undefined,
      );
      let disconnected = false;
      removed.uplink!.on('disconnected', () => {
        disconnected = true;
      });
      const res = await api(b, '/api/v1/edges/edge-rm', { method: 'DELETE', token: admin });
      assert.equal(res.status, 200);
      await until('edge-rm disconnected from hub A', 10_000, () => (disconnected ? true : undefined));
      // Its credentials are revoked: it does not come back on either hub.
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(removed.uplink!.connected, false);
      for (const hub of [a, b]) {
        assert.equal((await api(hub, '/api/v1/edges/edge-rm', { token: viewer })).status, 404);
      }
      // Any token revoked on one hub is refused by the other at once, though that hub had it cached.
      const created = await a.tokens.create({ role: 'viewer' });
      assert.equal((await api(a, '/api/v1/edges', { token: created.token })).status, 200);
      const revoke = await api(b, `/api/v1/tokens/${created.info.id}`, { method: 'DELETE', token: admin });
      assert.equal(revoke.status, 200);
      await until('the revoked token refused by hub A', 2000, async () =>
        (await api(a, '/api/v1/edges', { token: created.token })).status === 401 ? true : undefined,
      );
    } finally {
      await removed.close();
      rmSync(stateDirRm, { recursive: true, force: true });
    }
  });

  test('when the edge disconnects it goes offline on both hubs', async () => {
    await agent!.close();
    agent = undefined;
    for (const hub of [a, b]) {
      await until(`edge offline on ${hub === a ? 'A' : 'B'}`, 15_000, async () =>
        (await edgeOn(hub)).status === 'offline' ? true : undefined,
      );
    }
    const onB = await edgeOn(b);
    assert.equal(onB.connected, false);
    assert.equal(onB.hub, undefined);
    // A command through B now finds no hub holding it.
    const res = await api<{ error: { code: string } }>(b, '/api/v1/edges/edge-2h/streams/cam1/start', {
      method: 'POST',
    });
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, 'EDGE_OFFLINE');
  });
});
