import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decode, Encoder } from '@msgpack/msgpack';
import { type Batch, type HubMessage, UPLINK_PATH, UPLINK_PROTOCOL } from '@sightline/shared';
import { WebSocket } from 'ws';
import { testBackends } from '../../test-support/backends.ts';
import { type HubServer, startHub } from '../server.ts';
import { trackPoints } from '../store/schema.ts';

const backends = await testBackends('uplink_server');
const encoder = new Encoder({ ignoreUndefined: true });

/** A raw uplink connection that collects what the hub sends. */
async function connect(url: string, token?: string) {
  const ws = new WebSocket(url.replace(/^http/, 'ws') + UPLINK_PATH, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  const got: HubMessage[] = [];
  ws.on('message', (data) => got.push(decode(data as Buffer) as HubMessage));
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
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
  return { ws, got, closed, next, send: (m: unknown) => ws.send(encoder.encode(m)) };
}

const hello = (edgeId: string) => ({
  t: 'hello',
  protocol: UPLINK_PROTOCOL,
  edgeId,
  run: 'run1',
  version: '0.1.0',
  model: 'yolox_nano',
  provider: 'cpu',
  streams: [],
});

const batch = (seq: number, points = 3): Batch => ({
  t: 'batch',
  streamId: 'cam1',
  run: 'run1',
  seq,
  points: Array.from({ length: points }, (_, i) => [
    1,
    1_750_000_000_000 + seq * 1000 + i * 40,
    1,
    2,
    30,
    60,
    0.9,
  ]),
  tracks: [
    { trackId: 1, label: 'person', classId: 0, firstSeen: 1_750_000_000_000, lastSeen: 1_750_000_000_100 },
  ],
  thumbnails: [],
  embeddings: [],
  events: [],
});

for (const backend of backends) {
  describe(`uplink server on ${backend.name}`, { skip: backend.skip }, () => {
    const loc = backend.create();
    let hub: HubServer;
    let edgeToken: string;

    before(async () => {
      hub = await startHub({ port: 0, ...loc });
      edgeToken = (await hub.tokens.create({ role: 'edge', edgeId: 'edge-1' })).token;
    });
    after(async () => {
      await hub?.close();
      await backend.dispose(loc);
    });

    const points = async () => (await hub.store.db.select().from(trackPoints)).length;

    test('the upgrade needs an edge credential of the right kind', async () => {
      await assert.rejects(connect(hub.url), /HTTP 401/);
      await assert.rejects(connect(hub.url, `slt_0123456789abcdef_${'A'.repeat(43)}`), /HTTP 401/);
      const viewer = (await hub.tokens.create({ role: 'viewer' })).token;
      await assert.rejects(connect(hub.url, viewer), /HTTP 403/);
      const enroll = (await hub.tokens.create({ role: 'enroll' })).token;
      await assert.rejects(connect(hub.url, enroll), /HTTP 403/);
    });

    test('hello, then batches are stored and acked; a replay is acked and adds nothing', async () => {
      const c = await connect(hub.url, edgeToken);
      c.send(hello('edge-1'));
      const welcome = await c.next((m) => m.t === 'welcome');
      assert.equal((welcome as { heartbeatMs: number }).heartbeatMs > 0, true);
      const before = await points();
      c.send(batch(1));
      c.send(batch(2));
      assert.deepEqual(await c.next((m) => m.t === 'ack'), {
        t: 'ack',
        streamId: 'cam1',
        run: 'run1',
        seq: 1,
      });
      assert.deepEqual(await c.next((m) => m.t === 'ack'), {
        t: 'ack',
        streamId: 'cam1',
        run: 'run1',
        seq: 2,
      });
      assert.equal((await points()) - before, 6);
      c.send(batch(1));
      await c.next((m) => m.t === 'ack' && m.seq === 1);
      assert.equal((await points()) - before, 6);
      c.ws.close();
      await c.closed;
    });

    test('malformed frames get an error and the connection keeps working', async () => {
      const c = await connect(hub.url, edgeToken);
      c.send(batch(5));
      // Nothing before hello.
      assert.equal(((await c.next((m) => m.t === 'error')) as { code: string }).code, 'NO_HELLO');
      c.send(hello('edge-1'));
      await c.next((m) => m.t === 'welcome');
      c.ws.send(Buffer.from([0xc1, 0xff, 0x00])); // not msgpack
      assert.equal((await c.next((m) => m.t === 'error')).t, 'error');
      c.ws.send('text frame');
      assert.match(JSON.stringify(await c.next((m) => m.t === 'error')), /binary msgpack/);
      c.send({ t: 'bogus' });
      assert.match(JSON.stringify(await c.next((m) => m.t === 'error')), /BAD_MESSAGE/);
      const bad = { ...batch(7), points: [[1, 2, 3]] };
      c.send(bad);
      const err = (await c.next((m) => m.t === 'error')) as {
        code: string;
        seq?: number;
        streamId?: string;
        run?: string;
        message: string;
      };
      assert.equal(err.code, 'BAD_MESSAGE');
      assert.deepEqual([err.seq, err.streamId, err.run], [7, 'cam1', 'run1']);
      assert.match(err.message, /^points\.0/);
      const thumb = {
        ...batch(8),
        thumbnails: [{ sha256: 'a'.repeat(64), jpeg: new Uint8Array([0xff, 0xd8, 0xff, 1]) }],
      };
      c.send(thumb);
      const terr = (await c.next((m) => m.t === 'error')) as { code: string; seq?: number };
      assert.equal(terr.code, 'THUMBNAIL_INVALID');
      assert.equal(terr.seq, 8);
      // Still alive: a good batch after all that is stored.
      c.send(batch(9));
      await c.next((m) => m.t === 'ack' && m.seq === 9);
      c.ws.close();
      await c.closed;
    });

    test('a hello naming another edge than the credential is refused and closed', async () => {
      const c = await connect(hub.url, edgeToken);
      c.send(hello('edge-2'));
      assert.match(JSON.stringify(await c.next((m) => m.t === 'error')), /EDGE_MISMATCH/);
      assert.equal(await c.closed, 4003);
    });

    test('a revoked credential cannot connect again', async () => {
      const { token, info } = await hub.tokens.create({ role: 'edge', edgeId: 'edge-3' });
      const c = await connect(hub.url, token);
      c.ws.close();
      await hub.tokens.revoke(info.id);
      await assert.rejects(connect(hub.url, token), /HTTP 401/);
    });
  });
}
