/**
 * Poison batches over the real uplink: a batch the hub refuses for its content is quarantined (kept raw, counted,
 * listed in the API), reported with its seq so the edge drops it, and never blocks the batches behind it. A hello
 * holding text the store cannot hold still connects the edge, so the bad stream can be removed through the API.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decode, Encoder } from '@msgpack/msgpack';
import { type Batch, type HubMessage, UPLINK_PATH, UPLINK_PROTOCOL } from '@sightline/shared';
import { eq } from 'drizzle-orm';
import { WebSocket } from 'ws';
import { testBackends } from '../../test-support/backends.ts';
import { type HubServer, startHub } from '../server.ts';
import { quarantineBatch } from '../store/quarantine.ts';
import { edges, quarantine, streams, trackPoints } from '../store/schema.ts';

const backends = await testBackends('quarantine');
const encoder = new Encoder({ ignoreUndefined: true });

type ErrorMsg = { t: 'error'; code: string; message: string; seq?: number; streamId?: string; run?: string };

/** A raw uplink connection that collects what the hub sends. */
async function connect(url: string, token: string) {
  const ws = new WebSocket(url.replace(/^http/, 'ws') + UPLINK_PATH, {
    headers: { authorization: `Bearer ${token}` },
  });
  const got: HubMessage[] = [];
  ws.on('message', (data) => got.push(decode(data as Buffer) as HubMessage));
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const next = async (pred: (m: HubMessage) => boolean, ms = 5000): Promise<HubMessage> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = got.findIndex(pred);
      if (i >= 0) return got.splice(i, 1)[0]!;
      if (Date.now() > deadline) throw new Error(`no matching message; got ${JSON.stringify(got)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const frame = (m: unknown) => encoder.encode(m);
  return { ws, got, closed, next, frame, send: (m: unknown) => ws.send(frame(m)) };
}

const hello = (edgeId: string, extra: Record<string, unknown> = {}) => ({
  t: 'hello',
  protocol: UPLINK_PROTOCOL,
  edgeId,
  run: 'run1',
  version: '0.1.0',
  model: 'yolox_nano',
  provider: 'cpu',
  streams: [],
  ...extra,
});

const T0 = 1_750_000_000_000;
const batch = (seq: number, over: Partial<Batch> = {}): Batch => ({
  t: 'batch',
  streamId: 'cam1',
  run: 'run1',
  seq,
  points: [[1, T0 + seq * 1000, 1, 2, 30, 60, 0.9]],
  tracks: [{ trackId: 1, label: 'person', classId: 0, firstSeen: T0, lastSeen: T0 + 100 }],
  thumbnails: [],
  embeddings: [],
  events: [],
  ...over,
});

const isErr = (seq?: number) => (m: HubMessage) => m.t === 'error' && (seq === undefined || m.seq === seq);
const isAck = (seq: number) => (m: HubMessage) => m.t === 'ack' && m.seq === seq;

for (const backend of backends) {
  describe(`quarantine on ${backend.name}`, { skip: backend.skip }, () => {
    const loc = backend.create();
    let hub: HubServer;
    let edgeToken: string;
    let admin: string;
    let viewer: string;

    before(async () => {
      hub = await startHub({ port: 0, ...loc, rateLimit: { ratePerSec: 1000, burst: 1000 } });
      edgeToken = (await hub.tokens.create({ role: 'edge', edgeId: 'edge-q' })).token;
      admin = (await hub.tokens.create({ role: 'admin' })).token;
      viewer = (await hub.tokens.create({ role: 'viewer' })).token;
    });
    after(async () => {
      await hub?.close();
      await backend.dispose(loc);
    });

    const api = (path: string, token: string, init: RequestInit = {}) =>
      fetch(hub.url + path, { ...init, headers: { authorization: `Bearer ${token}` } });
    const pointsOf = async (seq: number) =>
      (await hub.store.db.select().from(trackPoints).where(eq(trackPoints.seq, seq))).length;

    test('batches with a track id above int4, a box above float32, a NUL in event data or a bad thumbnail are quarantined; later batches are acked and stored', async () => {
      const c = await connect(hub.url, edgeToken);
      c.send(hello('edge-q'));
      await c.next((m) => m.t === 'welcome');
      const poison: [number, Batch, string, RegExp][] = [
        [2, batch(2, { points: [[2 ** 31, T0, 1, 2, 3, 4, 0.9]] }), 'BAD_MESSAGE', /^points\.0\.0: Too big/],
        [
          3,
          batch(3, { points: [[1, T0, 3.5e38, 2, 3, 4, 0.9]] }),
          'BAD_MESSAGE',
          /^points\.0\.2: must be a finite float32/,
        ],
        [
          4,
          batch(4, { events: [{ kind: 'line', ts: T0, data: { who: 'a\u0000b' } }] }),
          'BAD_MESSAGE',
          /^events\.0\.data: who: must not contain NUL/,
        ],
        [
          5,
          batch(5, { thumbnails: [{ sha256: 'a'.repeat(64), jpeg: new Uint8Array([0xff, 0xd8, 0xff, 1]) }] }),
          'THUMBNAIL_INVALID',
          /./,
        ],
      ];
      c.send(batch(1));
      const frames = new Map<number, Uint8Array>();
      for (const [seq, b] of poison) {
        frames.set(seq, c.frame(b));
        c.ws.send(frames.get(seq)!);
      }
      c.send(batch(6));
      await c.next(isAck(1));
      for (const [seq, , code, message] of poison) {
        const err = (await c.next(isErr(seq))) as ErrorMsg;
        assert.deepEqual([err.code, err.streamId, err.run], [code, 'cam1', 'run1'], JSON.stringify(err));
        assert.match(err.message, message);
      }
      // The good batch behind the poison ones is acked and stored; the connection stayed up.
      await c.next(isAck(6));
      assert.equal(c.ws.readyState, WebSocket.OPEN);
      assert.equal(await pointsOf(6), 1);
      for (const [seq] of poison) assert.equal(await pointsOf(seq), 0, `nothing of batch ${seq} is stored`);

      // Kept raw, one row each.
      const rows = await hub.store.db.select().from(quarantine).where(eq(quarantine.edgeId, 'edge-q'));
      assert.deepEqual(rows.map((r) => r.seq).sort(), [2, 3, 4, 5]);
      for (const r of rows) {
        assert.deepEqual(new Uint8Array(r.payload), frames.get(r.seq!), `payload of ${r.seq} as sent`);
        assert.equal(r.bytes, r.payload.byteLength);
        assert.doesNotMatch(r.reason, /insert|select|params/i);
      }

      // A replay (the edge missed the error before a reconnect) is refused again with its seq, adds no row.
      c.ws.send(frames.get(3)!);
      assert.equal(((await c.next(isErr(3))) as ErrorMsg).code, 'BAD_MESSAGE');
      c.send(batch(7));
      await c.next(isAck(7));
      assert.equal((await hub.store.db.select().from(quarantine)).length, 4);
      c.ws.close();
      await c.closed;

      // Counted in the metrics.
      const metrics = await (await api('/metrics', viewer)).text();
      assert.match(metrics, /sightline_hub_uplink_quarantined_total\{code="BAD_MESSAGE"\} 3/);
      assert.match(metrics, /sightline_hub_uplink_quarantined_total\{code="THUMBNAIL_INVALID"\} 1/);
    });

    test('GET /api/v1/quarantine lists them for admins, newest first; the payload comes back as sent; DELETE discards', async () => {
      const res = await api('/api/v1/quarantine?edgeId=edge-q', admin);
      assert.equal(res.status, 200);
      const { batches } = (await res.json()) as {
        batches: {
          id: number;
          seq?: number;
          code: string;
          reason: string;
          bytes: number;
          streamId?: string;
        }[];
      };
      assert.deepEqual(
        batches.map((b) => [b.seq, b.code, b.streamId]),
        [
          [5, 'THUMBNAIL_INVALID', 'cam1'],
          [4, 'BAD_MESSAGE', 'cam1'],
          [3, 'BAD_MESSAGE', 'cam1'],
          [2, 'BAD_MESSAGE', 'cam1'],
        ],
      );
      const page = (await (
        await api(`/api/v1/quarantine?limit=2&before=${batches[1]!.id}`, admin)
      ).json()) as {
        batches: { seq: number }[];
      };
      assert.deepEqual(
        page.batches.map((b) => b.seq),
        [3, 2],
      );

      const first = batches[3]!;
      const payload = await api(`/api/v1/quarantine/${first.id}/payload`, admin);
      assert.equal(payload.status, 200);
      assert.equal(payload.headers.get('content-type'), 'application/vnd.msgpack');
      const sent = decode(new Uint8Array(await payload.arrayBuffer())) as Batch;
      assert.deepEqual([sent.t, sent.seq, sent.points[0]![0]], ['batch', 2, 2 ** 31]);

      for (const path of ['/api/v1/quarantine', `/api/v1/quarantine/${first.id}/payload`]) {
        assert.equal((await api(path, viewer)).status, 403, path);
      }
      assert.equal((await api(`/api/v1/quarantine/${first.id}`, viewer, { method: 'DELETE' })).status, 403);

      const del = await api(`/api/v1/quarantine/${first.id}`, admin, { method: 'DELETE' });
      assert.deepEqual([del.status, await del.json()], [200, { discarded: first.id }]);
      const again = await api(`/api/v1/quarantine/${first.id}`, admin, { method: 'DELETE' });
      assert.equal(again.status, 404);
      assert.equal((await api(`/api/v1/quarantine/${first.id}/payload`, admin)).status, 404);
    });

    test('malformed quarantine requests are 400 naming the field', async () => {
      for (const [path, field] of [
        ['/api/v1/quarantine?limit=0', /^query\.limit: /],
        ['/api/v1/quarantine?limit=abc', /^query\.limit: /],
        ['/api/v1/quarantine?before=-3', /^query\.before: /],
        ['/api/v1/quarantine?edgeId=bad%20id', /^query\.edgeId: /],
        ['/api/v1/quarantine/abc/payload', /^param\.quarantineId: /],
        ['/api/v1/quarantine/0/payload', /^param\.quarantineId: /],
        ['/api/v1/quarantine/99999999999999999999', /^param\.quarantineId: /],
      ] as const) {
        const res = await api(path, admin, path.endsWith('999') ? { method: 'DELETE' } : {});
        const body = (await res.json()) as { error: { code: string; message: string } };
        assert.equal(res.status, 400, `${path}: ${JSON.stringify(body)}`);
        assert.equal(body.error.code, 'VALIDATION_FAILED');
        assert.match(body.error.message, field, path);
      }
    });

    test('a hello with a NUL in a stream source and its config still connects; the bad stream can be removed', async () => {
      const token = (await hub.tokens.create({ role: 'edge', edgeId: 'edge-nul' })).token;
      const operator = (await hub.tokens.create({ role: 'operator' })).token;
      const c = await connect(hub.url, token);
      const status = {
        streamId: 'nul',
        source: 'rtsp://cam\u0000/x',
        state: 'failed',
        framesDecoded: 0,
        framesInferred: 0,
        droppedOverflow: 0,
        droppedStale: 0,
        fps: 0,
        latencyP50Ms: 0,
        latencyP95Ms: 0,
        activeTracks: 0,
        reconnects: 0,
      };
      c.send(
        hello('edge-nul', {
          config: { streams: [{ id: 'nul', source: 'rtsp://cam\u0000/x' }] },
          streams: [status],
        }),
      );
      await c.next((m) => m.t === 'welcome');
      assert.equal(((await c.next(isErr())) as ErrorMsg).code, 'HELLO_SANITIZED');
      const [row] = await hub.store.db.select().from(edges).where(eq(edges.id, 'edge-nul'));
      assert.deepEqual(row?.config, { streams: [{ id: 'nul', source: 'rtsp://cam\uFFFD/x' }] });
      const [stream] = await hub.store.db.select().from(streams).where(eq(streams.edgeId, 'edge-nul'));
      assert.equal(stream?.source, 'rtsp://cam\uFFFD/x');

      // The edge is online, so removing the stream reaches it (it was 409 EDGE_OFFLINE when the hello failed).
      c.ws.on('message', (data) => {
        const m = decode(data as Buffer) as {
          t: string;
          id: string;
          op: string;
          args: { streamId?: string };
        };
        if (m.t === 'command' && m.op === 'removeStream' && m.args.streamId === 'nul') {
          c.send({ t: 'result', id: m.id, ok: true, data: { removed: 'nul' } });
        }
      });
      const res = await api('/api/v1/edges/edge-nul/streams/nul', operator, { method: 'DELETE' });
      assert.equal(res.status, 200, await res.clone().text());
      c.ws.close();
      await c.closed;
    });

    test('an edge keeps at most its newest batches within both limits, count and bytes; the newest always', async () => {
      const keep = (seq: number, bytes: number) =>
        quarantineBatch(
          hub.store,
          {
            edgeId: 'edge-cap',
            streamId: 'cam1',
            run: 'r1',
            seq,
            code: 'BAD_MESSAGE',
            reason: 'test',
            payload: new Uint8Array(bytes),
          },
          { batches: 3, bytes: 2500 },
        );
      const seqs = async () =>
        (await hub.store.db.select().from(quarantine).where(eq(quarantine.edgeId, 'edge-cap')))
          .map((r) => r.seq)
          .sort((a, b) => (a ?? 0) - (b ?? 0));
      for (const seq of [1, 2, 3, 4]) assert.equal(await keep(seq, 100), true);
      assert.deepEqual(await seqs(), [2, 3, 4], 'three batches at most');
      assert.equal(await keep(4, 100), false, 'a replay adds nothing');
      assert.equal(await keep(5, 2000), true);
      assert.deepEqual(await seqs(), [3, 4, 5], '2200 bytes in three batches: within both limits');
      assert.equal(await keep(6, 400), true);
      assert.equal(await keep(7, 600), true);
      assert.deepEqual(await seqs(), [6, 7], 'with batch 5 the newest would hold 3000 bytes');
      assert.equal(await keep(8, 3000), true);
      assert.deepEqual(await seqs(), [8], 'the newest stays even when it alone is over the byte limit');
    });
  });

  describe(`quarantine during a store outage on ${backend.name}`, { skip: backend.skip }, () => {
    test('a poison batch that cannot be quarantined is an outage: no seq, closed with 1011, not dropped', async () => {
      const loc = backend.create();
      const hub = await startHub({ port: 0, ...loc });
      try {
        const token = (await hub.tokens.create({ role: 'edge', edgeId: 'edge-o' })).token;
        const c = await connect(hub.url, token);
        c.send(hello('edge-o'));
        await c.next((m) => m.t === 'welcome');
        await hub.store.close();
        c.send(batch(1, { points: [[2 ** 31, T0, 1, 2, 3, 4, 0.9]] }));
        const err = (await c.next(isErr())) as ErrorMsg;
        assert.equal(err.code, 'STORE_UNAVAILABLE', JSON.stringify(err));
        assert.equal(err.seq, undefined, 'no seq: the edge keeps the batch and retries');
        assert.equal(await c.closed, 1011);
      } finally {
        await hub.close().catch(() => {});
        await backend.dispose(loc);
      }
    });
  });
}
