/**
 * The overflow relay against the machine's Redis (127.0.0.1:6379, a unique key prefix per test, its keys deleted
 * after) and a private redis-server stopped and started mid-test. The test plays the worker with a few ioredis
 * calls (register, XREADGROUP, XADD the answer).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import { decode, Encoder } from '@msgpack/msgpack';
import {
  type HubMessage,
  type InferRequest,
  type Inferred,
  OFFLOAD_FAILURES,
  OVERFLOW_GROUP,
  overflowKeys,
  UPLINK_PATH,
  UPLINK_PROTOCOL,
  type WorkerInfo,
} from '@sightline/shared';
import { Redis } from 'ioredis';
import { WebSocket } from 'ws';
import { freePort, PrivateRedis } from '../../test-support/private-redis.ts';
import { type HubServer, type HubServerOptions, startHub } from '../server.ts';

/** ioredis has Buffer variants of every command at run time, but its types lack this one. */
type BufferReads = { xreadgroupBuffer(...args: (string | number)[]): Promise<unknown> };

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const encoder = new Encoder({ ignoreUndefined: true });
delete process.env.REDIS_URL;

let counter = 0;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  ms = 8000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** A Redis client of the test's own, closed after the test. */
function redisClient(url = REDIS_URL): Redis {
  const r = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  r.on('error', () => {});
  cleanups.push(async () => r.disconnect());
  return r;
}

/** A unique key prefix whose keys are deleted after the test. */
function testPrefix(): string {
  const prefix = `sightline-test:${process.pid}:${++counter}:`;
  cleanups.push(async () => {
    const r = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    const keys = await r.keys(`${prefix}*`);
    if (keys.length) await r.del(...keys);
    r.disconnect();
  });
  return prefix;
}

interface TestHub {
  hub: HubServer;
  viewer: string;
  edge: Awaited<ReturnType<typeof connectEdge>>;
  metric(name: string, labels?: string): Promise<number>;
  workers(): Promise<{
    redis: string;
    workers: (WorkerInfo & { status: string })[];
    queues: Record<string, { length: number; pending: number; lag: number }>;
  }>;
}

/** A hub (PGlite, no live video) with edge-1 connected and said hello. */
async function hubWithEdge(options: HubServerOptions): Promise<TestHub> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sightline-overflow-'));
  const hub = await startHub({ port: 0, dataDir, databaseUrl: '', media: { enabled: false }, ...options });
  cleanups.push(async () => {
    await hub.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const viewer = (await hub.tokens.create({ role: 'viewer' })).token;
  const edgeToken = (await hub.tokens.create({ role: 'edge', edgeId: 'edge-1' })).token;
  const edge = await connectEdge(hub.url, edgeToken);
  edge.send({
    t: 'hello',
    protocol: UPLINK_PROTOCOL,
    edgeId: 'edge-1',
    run: 'run1',
    version: '0.1.0',
    model: 'yolox_nano',
    provider: 'cpu',
    streams: [],
  });
  await edge.next((m) => m.t === 'welcome');
  const get = (path: string) => fetch(hub.url + path, { headers: { authorization: `Bearer ${viewer}` } });
  return {
    hub,
    viewer,
    edge,
    async metric(name, labels = '') {
      const text = await (await get('/metrics')).text();
      const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
      return line ? Number(line.split(' ').at(-1)) : 0;
    },
    async workers() {
      const res = await get('/api/v1/workers');
      assert.equal(res.status, 200);
      return res.json() as never;
    },
  };
}

/** A raw uplink connection that collects what the hub sends. */
async function connectEdge(url: string, token: string) {
  const ws = new WebSocket(url.replace(/^http/, 'ws') + UPLINK_PATH, {
    headers: { authorization: `Bearer ${token}` },
  });
  const got: HubMessage[] = [];
  ws.on('message', (data) => got.push(decode(data as Buffer) as HubMessage));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  cleanups.push(async () => ws.terminate());
  const next = async (pred: (m: HubMessage) => boolean, ms = 5000): Promise<HubMessage> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = got.findIndex(pred);
      if (i >= 0) return got.splice(i, 1)[0]!;
      if (Date.now() > deadline) throw new Error(`no matching message; got ${JSON.stringify(got)}`);
      await sleep(5);
    }
  };
  const answer = (id: string, ms?: number) =>
    next((m) => m.t === 'inferred' && m.id === id, ms) as Promise<Inferred>;
  return { ws, got, next, answer, send: (m: unknown) => ws.send(encoder.encode(m)) };
}

const infer = (id: string, model: string, budgetMs = 10_000): InferRequest => ({
  t: 'infer',
  id,
  model,
  budgetMs,
  decode: { confidence: 0.3, iou: 0.45 },
  frames: [
    {
      streamId: 'cam1',
      seq: 1,
      encoding: 'jpeg',
      width: 4,
      height: 4,
      sourceWidth: 8,
      sourceHeight: 8,
      data: new Uint8Array([0xff, 0xd8, 1, 2, 3]),
    },
  ],
});

/** The test's worker: registers (expiring key + zset), takes entries, answers them. */
function fakeWorker(redis: Redis, prefix: string, id: string, models: string[]) {
  const keys = overflowKeys(prefix);
  const info = (): WorkerInfo => ({
    id,
    host: 'test',
    pid: process.pid,
    models,
    provider: 'cpu',
    maxBatch: 8,
    capacityFps: 100,
    rateFps: 0,
    inFlight: 0,
    processed: 0,
    failed: 0,
    malformed: 0,
    startedAt: Date.now(),
    heartbeatAt: Date.now(),
  });
  return {
    async register(ttlMs = 5000) {
      for (const m of models) {
        await redis.xgroup('CREATE', keys.requests(m), OVERFLOW_GROUP, '0', 'MKSTREAM').catch(() => {});
      }
      await redis.set(keys.worker(id), JSON.stringify(info()), 'PX', ttlMs);
      await redis.zadd(keys.workers, Date.now(), id);
    },
    /** Takes up to `count` entries of `model` (waits up to 3 s for one). */
    async take(model: string, count = 10) {
      const reply = (await (redis as unknown as BufferReads).xreadgroupBuffer(
        'GROUP',
        OVERFLOW_GROUP,
        id,
        'COUNT',
        count,
        'BLOCK',
        3000,
        'STREAMS',
        keys.requests(model),
        '>',
      )) as [Buffer, [Buffer, Buffer[]][]][] | null;
      return (reply?.[0]?.[1] ?? []).map(([entryId, flat]) => {
        const f: Record<string, Buffer> = {};
        for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]!.toString()] = flat[i + 1]!;
        return { entryId: entryId.toString(), fields: f, req: decode(f.req!) as InferRequest };
      });
    },
    async answer(hubId: string, edge: string, answer: Inferred | Buffer) {
      const bytes = Buffer.isBuffer(answer) ? answer : Buffer.from(encoder.encode(answer));
      await redis.xadd(keys.results(hubId), '*', 'edge', edge, 'answer', bytes);
    },
  };
}

const okAnswer = (id: string): Inferred => ({
  t: 'inferred',
  id,
  ok: true,
  worker: 'w1',
  queuedMs: 3,
  results: [{ detections: [], preprocessMs: 1, inferMs: 2, postprocessMs: 1, batchSize: 1 }],
});

describe('overflow relay', () => {
  after(() => {
    // Nothing left running: every hub and connection was closed by its test.
  });

  test('an infer over the uplink is queued for a worker and its answer reaches that edge', async () => {
    const prefix = testPrefix();
    const t = await hubWithEdge({ redisUrl: REDIS_URL, overflow: { prefix, refreshMs: 100 } });
    const worker = fakeWorker(redisClient(), prefix, 'w1', ['yolox_nano']);
    await worker.register();
    await until('the worker listed', async () => (await t.workers()).workers.length === 1 || undefined);
    const req = infer('req-1', 'yolox_nano');
    const raw = encoder.encode(req);
    t.edge.ws.send(raw);
    const [entry] = await worker.take('yolox_nano');
    assert.ok(entry);
    assert.equal(entry.fields.hub!.toString(), t.hub.overflow.hubId);
    assert.equal(entry.fields.edge!.toString(), 'edge-1');
    assert.ok(Math.abs(Number(entry.fields.at!.toString()) - Date.now()) < 5000);
    assert.deepEqual(entry.fields.req, Buffer.from(raw), 'the request bytes as the edge sent them');
    assert.equal(t.edge.got.length, 0, 'no answer before the worker');
    await worker.answer(t.hub.overflow.hubId, 'edge-1', okAnswer('req-1'));
    const got = await t.edge.answer('req-1');
    assert.equal(got.ok, true);
    assert.equal(got.worker, 'w1');
    assert.equal(got.results?.length, 1);
    assert.equal(await t.metric('sightline_hub_overflow_requests_total', 'outcome="queued"'), 1);
    assert.equal(await t.metric('sightline_hub_overflow_requests_total', 'outcome="answered"'), 1);
    assert.equal(await t.metric('sightline_hub_overflow_frames_offloaded_total'), 1);
    assert.equal(await t.metric('sightline_hub_overflow_answers_delivered_total'), 1);
    assert.equal(await t.metric('sightline_hub_overflow_round_trip_seconds_count'), 1);
    // The queue view is refreshed every refreshMs: wait for a refresh after the entry went in.
    const w = await until('the queue view to show the entry', async () => {
      const v = await t.workers();
      return v.queues.yolox_nano?.length === 1 ? v : undefined;
    });
    assert.equal(w.redis, 'connected');
  });

  test('no live worker for the model: shed at once', async () => {
    const prefix = testPrefix();
    const t = await hubWithEdge({ redisUrl: REDIS_URL, overflow: { prefix, refreshMs: 100 } });
    await fakeWorker(redisClient(), prefix, 'w1', ['other_model']).register();
    await until('the worker listed', async () => (await t.workers()).workers.length === 1 || undefined);
    const started = Date.now();
    t.edge.send(infer('a', 'yolox_nano'));
    const got = await t.edge.answer('a', 1000);
    assert.equal(got.ok, false);
    assert.equal(got.error?.code, OFFLOAD_FAILURES.SHED);
    assert.match(got.error!.message, /no live worker serves model "yolox_nano"/);
    assert.ok(Date.now() - started < 1000);
    t.edge.send(infer('b', 'other_model', 0));
    assert.equal((await t.edge.answer('b', 1000)).error?.code, OFFLOAD_FAILURES.EXPIRED, 'no budget left');
    assert.equal(await t.metric('sightline_hub_overflow_requests_total', 'outcome="shed"'), 1);
    assert.equal(await t.metric('sightline_hub_overflow_requests_total', 'outcome="expired"'), 1);
  });

  test('a backlog at the cap is shed; the cap trims the stream and counts the entries no worker took', async () => {
    const prefix = testPrefix();
    const t = await hubWithEdge({ redisUrl: REDIS_URL, overflow: { prefix, refreshMs: 100, maxQueue: 3 } });
    const redis = redisClient();
    const worker = fakeWorker(redis, prefix, 'w1', ['m']);
    await worker.register();
    await until('the worker listed', async () => (await t.workers()).workers.length === 1 || undefined);
    const key = overflowKeys(prefix).requests('m');
    for (const id of ['q1', 'q2', 'q3']) {
      t.edge.send(infer(id, 'm'));
      await until(
        `${id} queued`,
        async () =>
          (await t.metric('sightline_hub_overflow_requests_total', 'outcome="queued"')) >= Number(id[1]) ||
          undefined,
      );
    }
    t.edge.send(infer('q4', 'm'));
    const shed = await t.edge.answer('q4', 1000);
    assert.equal(shed.error?.code, OFFLOAD_FAILURES.SHED);
    assert.match(shed.error!.message, /queue is full/);
    assert.equal(await redis.xlen(key), 3);
    assert.equal(await t.metric('sightline_hub_overflow_trimmed_total', 'model="m"'), 0);

    // The worker takes all three: the backlog is empty again, and entries it took may be trimmed uncounted.
    assert.equal((await worker.take('m')).length, 3);
    for (const id of ['r1', 'r2']) {
      assert.equal(
        await t.hub.overflow.submit('edge-1', infer(id, 'm'), encoder.encode(infer(id, 'm'))),
        'queued',
      );
    }
    assert.equal(await redis.xlen(key), 3);
    assert.equal(await t.metric('sightline_hub_overflow_trimmed_total', 'model="m"'), 0);

    // Requests arriving together all pass the backlog check, then the cap trims those no worker took: counted.
    await worker.take('m');
    const burst = Array.from({ length: 8 }, (_, i) => infer(`b${i}`, 'm'));
    const outcomes = await Promise.all(
      burst.map((r) => t.hub.overflow.submit('edge-1', r, encoder.encode(r))),
    );
    assert.deepEqual(new Set(outcomes), new Set(['queued']));
    assert.equal(await redis.xlen(key), 3);
    assert.equal(await t.metric('sightline_hub_overflow_trimmed_total', 'model="m"'), 5);
    await t.hub.overflow.refresh();
    assert.deepEqual((await t.workers()).queues.m, { length: 3, pending: 5, lag: 3 });
  });

  test('a malformed answer on the results stream is counted and the next good one still arrives', async () => {
    const prefix = testPrefix();
    const t = await hubWithEdge({ redisUrl: REDIS_URL, overflow: { prefix, refreshMs: 100 } });
    const worker = fakeWorker(redisClient(), prefix, 'w1', ['m']);
    await worker.register();
    await until('the worker listed', async () => (await t.workers()).workers.length === 1 || undefined);
    t.edge.send(infer('x', 'm'));
    await worker.take('m');
    const hubId = t.hub.overflow.hubId;
    await worker.answer(hubId, 'edge-1', Buffer.from([0xc1, 0xff]));
    await worker.answer(hubId, 'edge-1', Buffer.from(encoder.encode({ t: 'inferred', id: 7 })));
    await worker.answer(hubId, 'edge-1', okAnswer('x'));
    assert.equal((await t.edge.answer('x')).ok, true);
    assert.equal(await t.metric('sightline_hub_overflow_malformed_answers_total'), 2);
    await worker.answer(hubId, 'edge-1', {
      t: 'inferred',
      id: 'y',
      ok: false,
      error: { code: OFFLOAD_FAILURES.FAILED, message: 'model mismatch' },
    });
    assert.equal((await t.edge.answer('y')).error?.code, OFFLOAD_FAILURES.FAILED);
    assert.equal(await t.metric('sightline_hub_overflow_requests_total', 'outcome="failed"'), 1);
  });

  test('GET /api/v1/workers lists a registered worker and drops it when its key expires', async () => {
    const prefix = testPrefix();
    const t = await hubWithEdge({ redisUrl: REDIS_URL, overflow: { prefix, refreshMs: 100 } });
    const res = await fetch(`${t.hub.url}/api/v1/workers`);
    assert.equal(res.status, 401);
    const worker = fakeWorker(redisClient(), prefix, 'w-expiring', ['m1', 'm2']);
    await worker.register(700);
    const listed = await until('the worker listed', async () => {
      const w = await t.workers();
      return w.workers.length ? w : undefined;
    });
    assert.equal(listed.redis, 'connected');
    assert.equal(listed.workers[0]!.id, 'w-expiring');
    assert.deepEqual(listed.workers[0]!.models, ['m1', 'm2']);
    assert.equal(listed.workers[0]!.status, 'idle');
    assert.deepEqual(listed.queues.m1, { length: 0, pending: 0, lag: 0 });
    await until(
      'the worker dropped',
      async () => (await t.workers()).workers.length === 0 || undefined,
      3000,
    );
    const spec = (await (await fetch(`${t.hub.url}/api/v1/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    assert.ok(spec.paths['/api/v1/workers']);
  });

  test('a hub without Redis answers every infer UNAVAILABLE at once', async () => {
    const t = await hubWithEdge({});
    t.edge.send(infer('n1', 'yolox_nano'));
    const got = await t.edge.answer('n1', 1000);
    assert.equal(got.ok, false);
    assert.equal(got.error?.code, OFFLOAD_FAILURES.UNAVAILABLE);
    assert.deepEqual(await t.workers(), { redis: 'off', workers: [], queues: {} });
    assert.equal(await t.metric('sightline_hub_overflow_requests_total', 'outcome="unavailable"'), 1);
  });

  test('a malformed infer is refused with an error (and a FAILED answer) and the connection stays up', async () => {
    const t = await hubWithEdge({});
    t.edge.send({ ...infer('bad', 'yolox_nano'), frames: [] });
    const err = (await t.edge.next((m) => m.t === 'error')) as { code: string; message: string };
    assert.equal(err.code, 'BAD_MESSAGE');
    assert.match(err.message, /^frames/);
    assert.equal((await t.edge.answer('bad')).error?.code, OFFLOAD_FAILURES.FAILED);
    t.edge.send(infer('good', 'yolox_nano'));
    assert.equal((await t.edge.answer('good')).error?.code, OFFLOAD_FAILURES.UNAVAILABLE);
    assert.equal(t.edge.ws.readyState, WebSocket.OPEN);
  });

  test('Redis unreachable (a closed port): UNAVAILABLE at once', async () => {
    const port = await freePort();
    const t = await hubWithEdge({ redisUrl: `redis://127.0.0.1:${port}`, overflow: { prefix: 'x:' } });
    const started = Date.now();
    t.edge.send(infer('u1', 'yolox_nano'));
    const got = await t.edge.answer('u1', 1000);
    assert.equal(got.error?.code, OFFLOAD_FAILURES.UNAVAILABLE);
    assert.ok(Date.now() - started < 500, `answered in ${Date.now() - started} ms`);
    assert.equal((await t.workers()).redis, 'unavailable');
  });

  test('Redis stopped mid-way: UNAVAILABLE at once; back again: queueing and answers resume', async () => {
    const server = await PrivateRedis.start();
    cleanups.push(() => server.stop());
    const url = server.url;
    const prefix = 'sightline:';
    const t = await hubWithEdge({ redisUrl: url, overflow: { prefix, refreshMs: 100 } });
    const hubId = t.hub.overflow.hubId;
    const worker = fakeWorker(redisClient(url), prefix, 'w1', ['m']);
    await worker.register();
    await until('the worker listed', async () => (await t.workers()).workers.length === 1 || undefined);
    t.edge.send(infer('before', 'm'));
    assert.equal((await worker.take('m')).length, 1);
    await worker.answer(hubId, 'edge-1', okAnswer('before'));
    assert.equal((await t.edge.answer('before')).ok, true);

    await server.stop();
    await until('redis seen down', async () => (await t.workers()).redis === 'unavailable' || undefined);
    const started = Date.now();
    t.edge.send(infer('during', 'm'));
    assert.equal((await t.edge.answer('during', 1000)).error?.code, OFFLOAD_FAILURES.UNAVAILABLE);
    assert.ok(Date.now() - started < 500, `answered in ${Date.now() - started} ms`);

    await server.start();
    // A fresh Redis (no persistence): the worker registers again, as its heartbeat would.
    await until('the worker registered again', async () => {
      try {
        await worker.register();
        return true;
      } catch {
        return undefined;
      }
    });
    await until(
      'the hub sees the worker again',
      async () => (await t.workers()).workers.length === 1 || undefined,
    );
    t.edge.send(infer('after', 'm'));
    const [entry] = await worker.take('m');
    assert.equal(entry?.req.id, 'after');
    await worker.answer(hubId, 'edge-1', okAnswer('after'));
    assert.equal((await t.edge.answer('after')).ok, true, 'the results reader resumed');
    assert.equal(await t.metric('sightline_hub_overflow_requests_total', 'outcome="unavailable"'), 1);
  });
});
