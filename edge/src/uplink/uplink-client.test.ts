import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { decode, encode } from '@msgpack/msgpack';
import {
  type Batch,
  BatchSchema,
  type Command,
  type CommandResult,
  CommandResultSchema,
  type Heartbeat,
  HeartbeatSchema,
  type Hello,
  HelloSchema,
  UPLINK_PATH,
} from '@sightline/shared';
import { type WebSocket, WebSocketServer } from 'ws';
import { UplinkBatcher } from './batcher.ts';
import { Outbox } from './outbox.ts';
import { type CommandOutcome, UplinkClient, type UplinkClientOptions, uplinkUrl } from './uplink-client.ts';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sightline-uplink-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

type BatchAnswer = 'ack' | 'ignore' | { error: string } | 'drop';

/** A small hub: answers hello with welcome, validates and acks batches, can refuse upgrades or drop connections. */
class FakeHub {
  readonly server: Server;
  readonly wss = new WebSocketServer({ noServer: true });
  /** Answer upgrades with this HTTP status instead of accepting them. */
  refuseWith?: number;
  heartbeatMs = 50;
  upgrades: IncomingMessage[] = [];
  hellos: Hello[] = [];
  heartbeats: Heartbeat[] = [];
  results: CommandResult[] = [];
  /** Every batch received, as `streamId/run/seq`, duplicates included. */
  received: string[] = [];
  /** Batches stored (acked), with how often each was received. */
  stored = new Map<string, number>();
  invalid: string[] = [];
  onBatch: (batch: Batch, n: number) => BatchAnswer = () => 'ack';
  conns = new Set<WebSocket>();

  constructor() {
    this.server = createServer((_req, res) => res.writeHead(404).end());
    this.server.on('upgrade', (req, socket, head) => {
      this.upgrades.push(req);
      if (this.refuseWith || new URL(req.url ?? '/', 'http://x').pathname !== UPLINK_PATH) {
        socket.end(
          `HTTP/1.1 ${this.refuseWith ?? 404} Nope\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
        );
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws));
    });
  }

  async listen(port = 0): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  send(message: unknown, ws?: WebSocket): void {
    for (const c of ws ? [ws] : this.conns) c.send(encode(message));
  }

  sendRaw(data: Uint8Array | string): void {
    for (const c of this.conns) c.send(data);
  }

  dropAll(): void {
    for (const c of this.conns) c.terminate();
  }

  async close(): Promise<void> {
    this.dropAll();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #accept(ws: WebSocket): void {
    this.conns.add(ws);
    ws.on('close', () => this.conns.delete(ws));
    ws.on('message', (data) => {
      const msg = decode(data as Buffer) as { t: string };
      switch (msg.t) {
        case 'hello':
          this.hellos.push(HelloSchema.parse(msg));
          this.send({ t: 'welcome', protocol: 1, heartbeatMs: this.heartbeatMs }, ws);
          return;
        case 'heartbeat':
          this.heartbeats.push(HeartbeatSchema.parse(msg));
          return;
        case 'result':
          this.results.push(CommandResultSchema.parse(msg));
          return;
        case 'batch': {
          const parsed = BatchSchema.safeParse(msg);
          if (!parsed.success) {
            this.invalid.push(parsed.error.message);
            return;
          }
          const b = parsed.data;
          const key = `${b.streamId}/${b.run}/${b.seq}`;
          this.received.push(key);
          const answer = this.onBatch(b, this.received.length);
          if (answer === 'drop') {
            ws.terminate();
          } else if (answer === 'ack') {
            this.stored.set(key, (this.stored.get(key) ?? 0) + 1);
            this.send({ t: 'ack', streamId: b.streamId, run: b.run, seq: b.seq }, ws);
          } else if (answer !== 'ignore') {
            this.send(
              { t: 'error', code: answer.error, message: 'bad batch', seq: b.seq, streamId: b.streamId },
              ws,
            );
          }
          return;
        }
      }
    });
  }
}

function batch(seq: number, streamId = 'cam1', run = 'r1'): Batch {
  return {
    t: 'batch',
    streamId,
    run,
    seq,
    points: [[1, 1000 + seq, 1.5, 2, 30, 40, 0.9]],
    tracks: [{ trackId: 1, label: 'person', classId: 0, firstSeen: 1000, lastSeen: 1000 + seq }],
    thumbnails: seq === 1 ? [{ sha256: 'a'.repeat(64), jpeg: new Uint8Array([0xff, 0xd8, 0xff, 0xd9]) }] : [],
    embeddings: [],
    events: [],
  };
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function client(hubUrl: string, outbox: Outbox, over: Partial<UplinkClientOptions> = {}) {
  const acked: string[] = [];
  const c = new UplinkClient({
    hubUrl,
    token: 'edge-token-1',
    edgeId: 'edge-1',
    run: 'r1',
    outbox,
    hello: () => ({ version: '0.1.0', model: 'yolox_s', provider: 'cpu', streams: [] }),
    heartbeat: () => ({ streams: [] }),
    onCommand: async () => ({ ok: true }),
    backoff: { initialDelayMs: 10, maxDelayMs: 50 },
    ...over,
  });
  c.on('acked', (s, r, q) => acked.push(`${s}/${r}/${q}`));
  return { c, acked };
}

test('uplinkUrl maps http(s) to ws(s) at the uplink path', () => {
  assert.equal(uplinkUrl('http://hub:8080'), 'ws://hub:8080/api/v1/uplink');
  assert.equal(uplinkUrl('https://hub.example/'), 'wss://hub.example/api/v1/uplink');
  assert.equal(uplinkUrl('ws://hub:1'), 'ws://hub:1/api/v1/uplink');
  assert.throws(() => uplinkUrl('ftp://hub'), /http\(s\)/);
});

test('hello, heartbeats with load, and every batch acked exactly once across dropped connections', async () => {
  const hub = new FakeHub();
  const url = await hub.listen();
  // The hub drops the connection on the 7th, 20th and 33rd batch it receives (before storing it).
  hub.onBatch = (_b, n) => (n === 7 || n === 20 || n === 33 ? 'drop' : 'ack');
  const outbox = Outbox.open({ dir: tempDir() });
  const { c, acked } = client(url, outbox, { maxInFlight: 4 });
  let connects = 0;
  c.on('connected', () => connects++);
  c.start();
  for (let seq = 1; seq <= 40; seq++) {
    c.send(batch(seq));
    if (seq % 5 === 0) await new Promise((r) => setTimeout(r, 5));
  }
  await waitFor('all acks', () => acked.length === 40);
  await waitFor('a heartbeat', () => hub.heartbeats.length > 0);
  await c.close();
  await hub.close();

  const expected = Array.from({ length: 40 }, (_, i) => `cam1/r1/${i + 1}`);
  assert.deepEqual([...acked].sort(), [...expected].sort(), 'each batch acked once');
  assert.equal(new Set(acked).size, 40);
  assert.deepEqual([...hub.stored.keys()].sort(), [...expected].sort(), 'no gaps on the hub');
  assert.ok(connects >= 4, `reconnected after each drop (${connects} connects)`);
  assert.equal(outbox.size, 0);
  assert.deepEqual(hub.invalid, []);
  assert.equal(hub.upgrades[0]!.headers.authorization, 'Bearer edge-token-1');
  assert.deepEqual(
    { ...hub.hellos[0]!, streams: undefined },
    {
      t: 'hello',
      protocol: 1,
      edgeId: 'edge-1',
      run: 'r1',
      version: '0.1.0',
      model: 'yolox_s',
      provider: 'cpu',
      streams: undefined,
    },
  );
  const hb = hub.heartbeats[0]!;
  assert.ok(hb.load.rssMb > 0 && hb.load.cpu >= 0);
  assert.equal(typeof hb.load.outboxMessages, 'number');
  const stats = c.stats();
  assert.equal(stats.connected, false);
  assert.equal(stats.acked, 40);
  assert.ok(stats.sent > 40, 'replays were sent');
  assert.ok(stats.reconnects >= 3);
});

test('a new client on the same outbox replays what the last process left unacked, in order', async () => {
  const dir = tempDir();
  const silent = new FakeHub();
  silent.onBatch = () => 'ignore';
  const url1 = await silent.listen();
  const first = client(url1, Outbox.open({ dir }));
  first.c.start();
  for (let seq = 1; seq <= 5; seq++) first.c.send(batch(seq, 'cam1', 'old-run'));
  await waitFor('5 batches on the wire', () => silent.received.length === 5);
  await first.c.close();
  await silent.close();
  assert.equal(first.acked.length, 0);

  const hub = new FakeHub();
  const url2 = await hub.listen();
  const outbox = Outbox.open({ dir });
  assert.equal(outbox.size, 5);
  const second = client(url2, outbox, { run: 'new-run' });
  second.c.start();
  second.c.send(batch(1, 'cam1', 'new-run'));
  await waitFor('all acks', () => second.acked.length === 6);
  await second.c.close();
  await hub.close();
  assert.deepEqual(hub.received, [
    'cam1/old-run/1',
    'cam1/old-run/2',
    'cam1/old-run/3',
    'cam1/old-run/4',
    'cam1/old-run/5',
    'cam1/new-run/1',
  ]);
  assert.equal(outbox.size, 0);
});

test('batches sent while the hub is down wait in the outbox and go out once it is up', async () => {
  const hub = new FakeHub();
  const url = await hub.listen();
  const port = Number(new URL(url).port);
  await hub.close();
  const outbox = Outbox.open({ dir: tempDir() });
  const { c, acked } = client(url, outbox);
  c.start();
  for (let seq = 1; seq <= 3; seq++) c.send(batch(seq));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(c.connected, false);
  assert.equal(outbox.size, 3);
  const again = new FakeHub();
  await again.listen(port);
  await waitFor('acks', () => acked.length === 3);
  await c.close();
  await again.close();
});

test('a refused credential (401) is retried without crashing, and the client connects once it is accepted', async () => {
  const hub = new FakeHub();
  hub.refuseWith = 401;
  const url = await hub.listen();
  const outbox = Outbox.open({ dir: tempDir() });
  const { c, acked } = client(url, outbox, { backoff: { initialDelayMs: 5, maxDelayMs: 30 } });
  c.start();
  c.send(batch(1));
  await waitFor('several refused upgrades', () => hub.upgrades.length >= 3);
  assert.equal(c.connected, false);
  assert.equal(outbox.size, 1, 'the batch waits');
  hub.refuseWith = 403;
  await waitFor('more refused upgrades', () => hub.upgrades.length >= 5);
  hub.refuseWith = undefined;
  await waitFor('the ack', () => acked.length === 1);
  assert.equal(c.connected, true);
  await c.close();
  await hub.close();
});

test('a command round trip; a throwing handler answers ok:false COMMAND_FAILED; invalid commands are refused', async () => {
  const hub = new FakeHub();
  const url = await hub.listen();
  const seen: Command[] = [];
  const { c } = client(url, Outbox.open({ dir: tempDir() }), {
    onCommand: async (cmd): Promise<CommandOutcome> => {
      seen.push(cmd);
      if (cmd.op === 'removeStream') throw new Error('no stream "cam9"');
      return { ok: true, data: { streamId: cmd.args.streamId } };
    },
  });
  c.start();
  await waitFor('connected', () => c.connected);
  hub.send({ t: 'command', id: 'c1', op: 'stopStream', args: { streamId: 'cam1' } });
  hub.send({ t: 'command', id: 'c2', op: 'removeStream', args: { streamId: 'cam9' } });
  hub.send({ t: 'command', id: 'c3', op: 'selfDestruct', args: {} });
  await waitFor('3 results', () => hub.results.length === 3);
  await c.close();
  await hub.close();
  const byId = new Map(hub.results.map((r) => [r.id, r]));
  assert.deepEqual(byId.get('c1'), { t: 'result', id: 'c1', ok: true, data: { streamId: 'cam1' } });
  assert.deepEqual(byId.get('c2'), {
    t: 'result',
    id: 'c2',
    ok: false,
    error: { code: 'COMMAND_FAILED', message: 'no stream "cam9"' },
  });
  assert.equal(byId.get('c3')!.ok, false);
  assert.equal(byId.get('c3')!.error!.code, 'COMMAND_INVALID');
  assert.deepEqual(
    seen.map((x) => x.id),
    ['c1', 'c2'],
  );
});

test('an error naming a batch drops it from the outbox; it is never resent', async () => {
  const hub = new FakeHub();
  const url = await hub.listen();
  hub.onBatch = (b) => (b.seq === 2 ? { error: 'BATCH_INVALID' } : 'ack');
  const outbox = Outbox.open({ dir: tempDir() });
  const { c, acked } = client(url, outbox);
  c.start();
  for (let seq = 1; seq <= 3; seq++) c.send(batch(seq));
  await waitFor('acks', () => acked.length === 2 && c.stats().rejected === 1);
  assert.equal(outbox.size, 0);
  // Reconnect: nothing is replayed.
  hub.dropAll();
  await waitFor('reconnected', () => hub.hellos.length === 2 && c.connected);
  c.send(batch(4));
  await waitFor('ack 4', () => acked.length === 3);
  await c.close();
  await hub.close();
  assert.deepEqual(hub.received, ['cam1/r1/1', 'cam1/r1/2', 'cam1/r1/3', 'cam1/r1/4']);
  assert.deepEqual(acked, ['cam1/r1/1', 'cam1/r1/3', 'cam1/r1/4']);
  assert.equal(c.stats().rejected, 1);
});

test('malformed hub frames are ignored; the connection keeps working', async () => {
  const hub = new FakeHub();
  const url = await hub.listen();
  const outbox = Outbox.open({ dir: tempDir() });
  const { c, acked } = client(url, outbox);
  let disconnects = 0;
  c.on('disconnected', () => disconnects++);
  c.start();
  await waitFor('connected', () => c.connected);
  hub.sendRaw(new Uint8Array([0xc1, 0x00, 0xff])); // not msgpack
  hub.sendRaw('{"t":"ack"}'); // text frame
  hub.send(42);
  hub.send(null);
  hub.send({ t: 'nonsense' });
  hub.send({ t: 'ack', streamId: 5 });
  hub.send({ t: 'ack', streamId: 'cam1', run: 'r1', seq: 99 }); // unknown batch
  hub.send({ t: 'command', op: 'stopStream' }); // no id
  hub.send({ t: 'error', code: 'X', message: 'no seq' });
  hub.send({ t: 'error', code: 'X', message: 'unknown seq', seq: 1234 });
  hub.send({ t: 'welcome', protocol: 1, heartbeatMs: 'soon' });
  c.send(batch(1));
  await waitFor('ack', () => acked.length === 1);
  assert.equal(c.connected, true);
  assert.equal(disconnects, 0);
  assert.deepEqual(hub.results, []);
  await c.close();
  await hub.close();
});

test('close() stops reconnecting and keeps the outbox', async () => {
  const hub = new FakeHub();
  hub.onBatch = () => 'ignore';
  const url = await hub.listen();
  const outbox = Outbox.open({ dir: tempDir() });
  const { c } = client(url, outbox);
  c.start();
  c.send(batch(1));
  await waitFor('sent', () => hub.received.length === 1);
  await c.close();
  const upgrades = hub.upgrades.length;
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(hub.upgrades.length, upgrades, 'no reconnect after close');
  assert.equal(outbox.size, 1);
  assert.equal(c.connected, false);
  await hub.close();
});

test('batcher -> client -> hub: real batches pass the hub schema after the msgpack round trip', async () => {
  const hub = new FakeHub();
  const url = await hub.listen();
  const outbox = Outbox.open({ dir: tempDir() });
  const { c, acked } = client(url, outbox);
  const batcher = new UplinkBatcher({ run: 'r1', flushMs: 20, onBatch: (b) => c.send(b) });
  c.start();
  const emb = new Float32Array(128).fill(1 / Math.sqrt(128));
  for (let i = 0; i < 5; i++) {
    batcher.addResult({
      streamId: 'cam1',
      seq: i,
      pts: i * 3000,
      width: 640,
      height: 480,
      capturedAt: 1_700_000_000_000.6 + i * 33.3,
      detections: [],
      tracks: [
        {
          trackId: 1,
          box: [1.25, 2.5, 100.75, 200],
          score: 0.87,
          classId: 0,
          label: 'person',
          status: 'confirmed',
          age: 5,
          hits: 5,
          timeSinceUpdate: 0,
          embedding: emb,
        },
      ],
      timings: {},
    });
  }
  batcher.addThumbnail({
    streamId: 'cam1',
    trackId: 1,
    sha256: 'f'.repeat(64),
    jpeg: new Uint8Array([0xff, 0xd8, 0xff, 0xd9]),
    score: 0.8,
    ts: 1_700_000_000_000,
  });
  batcher.addEvent('cam1', { kind: 'state', ts: 1_700_000_000_000, data: { state: 'running' } });
  await waitFor('an ack', () => acked.length >= 1);
  batcher.close();
  await c.close();
  await hub.close();
  assert.deepEqual(hub.invalid, []);
  assert.deepEqual(acked, ['cam1/r1/1']);
});
