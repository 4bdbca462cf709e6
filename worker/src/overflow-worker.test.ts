import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decode, encode } from '@msgpack/msgpack';
import {
  type DecodedFrame,
  type InferenceBackend,
  type InferenceBackendFactory,
  InferencePool,
  type InferResult,
  type LoadedModel,
  loadModel,
  type PoolLogger,
} from '@sightline/edge';
import {
  type InferRequest,
  type Inferred,
  InferredSchema,
  OFFLOAD_FAILURES,
  type OffloadFrame,
  OVERFLOW_GROUP,
  overflowKeys,
  WorkerInfoSchema,
} from '@sightline/shared';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { OverflowWorker, type OverflowWorkerOptions } from './overflow-worker.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const media = process.env.SIGHTLINE_MEDIA_DIR ?? '';
const MODEL = 'yolox_nano';
const detector = { confidence: 0.3, iou: 0.45 };

let redis: Redis;
let model: LoadedModel;
/** bus.jpg (810x1080) scaled to the letterbox's inner size of yolox_nano (312x416), packed BGR24 as an edge has it. */
let busBgr: Uint8Array;
const BUS = { width: 312, height: 416, sourceWidth: 810, sourceHeight: 1080 };

let n = 0;
const prefixes: string[] = [];
/** A prefix of keys no other test (or run) uses; its keys are deleted after the tests. */
function freshPrefix(): string {
  const p = `sightline-test-${process.pid}-${n++}:`;
  prefixes.push(p);
  return p;
}

before(async () => {
  redis = new Redis(REDIS_URL);
  model = await loadModel(MODEL, { verify: false });
  const rgb = await sharp(join(media, 'bus.jpg'))
    .resize(BUS.width, BUS.height, { fit: 'fill' })
    .removeAlpha()
    .raw()
    .toBuffer();
  busBgr = new Uint8Array(rgb.length);
  for (let i = 0; i < rgb.length; i += 3) {
    busBgr[i] = rgb[i + 2]!;
    busBgr[i + 1] = rgb[i + 1]!;
    busBgr[i + 2] = rgb[i]!;
  }
});

after(async () => {
  for (const p of prefixes) {
    const keys = await redis.keys(`${p}*`);
    if (keys.length) await redis.del(...keys);
  }
  await redis.quit();
});

function quietLogger(): PoolLogger & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    warnings,
    info: () => {},
    warn: (data, message) => warnings.push(`${message} ${JSON.stringify(data)}`),
    error: (data, message) => warnings.push(`${message} ${JSON.stringify(data)}`),
  };
}

function rawFrame(seq = 0, streamId = 'cam1'): OffloadFrame {
  return { streamId, seq, encoding: 'raw', ...BUS, data: busBgr.slice() };
}

async function jpegFrame(seq = 0): Promise<OffloadFrame> {
  // As the edge encodes its BGR bytes: three plain channels.
  const jpeg = await sharp(busBgr, { raw: { width: BUS.width, height: BUS.height, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
  return { streamId: 'cam2', seq, encoding: 'jpeg', ...BUS, data: new Uint8Array(jpeg) };
}

/** The same pixels as the edge hands them to its own pool. */
function localFrame(): DecodedFrame {
  return {
    ...BUS,
    data: busBgr.slice(),
    streamId: 'cam1',
    seq: 0,
    pts: 0,
    capturedAt: Date.now(),
    decodeMs: 0,
  };
}

function request(id: string, frames: OffloadFrame[], extra: Partial<InferRequest> = {}): InferRequest {
  return { t: 'infer', id, model: MODEL, budgetMs: 30_000, decode: detector, frames, ...extra };
}

/** The fields of a request entry as a hub adds it. */
function entryFields(hub: string, edge: string, req: unknown, at = Date.now()): (string | Buffer)[] {
  return ['hub', hub, 'edge', edge, 'at', String(at), 'req', Buffer.from(encode(req))];
}

/** Add entries to the model's stream in one transaction (a blocked reader sees them all at once). */
async function addEntries(prefix: string, entries: (string | Buffer)[][], model = MODEL): Promise<string[]> {
  const tx = redis.multi();
  for (const fields of entries) tx.xadd(overflowKeys(prefix).requests(model), '*', ...fields);
  const replies = (await tx.exec())!;
  return replies.map(([err, id]) => {
    if (err) throw err;
    return String(id);
  });
}

/** Wait for `count` answers on a hub's results stream; each checked against InferredSchema. */
async function answers(
  prefix: string,
  hub: string,
  count: number,
  timeoutMs = 30_000,
): Promise<{ edge: string; answer: Inferred }[]> {
  const key = overflowKeys(prefix).results(hub);
  const until = Date.now() + timeoutMs;
  for (;;) {
    const entries = await redis.xrangeBuffer(key, '-', '+');
    if (entries.length >= count) {
      return entries.map(([, fields]) => {
        const map = new Map<string, Buffer>();
        for (let i = 0; i < fields.length; i += 2) map.set(String(fields[i]), fields[i + 1]!);
        return { edge: String(map.get('edge')), answer: InferredSchema.parse(decode(map.get('answer')!)) };
      });
    }
    if (Date.now() > until) assert.fail(`expected ${count} answers on ${key}, got ${entries.length}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function pendingCount(prefix: string, model = MODEL): Promise<number> {
  const [count] = (await redis.xpending(overflowKeys(prefix).requests(model), OVERFLOW_GROUP)) as [number];
  return Number(count);
}

async function startWorker(prefix: string, options: Partial<OverflowWorkerOptions> = {}) {
  const worker = new OverflowWorker({
    models: [MODEL],
    redisUrl: REDIS_URL,
    prefix,
    // A shared 2-core box under other tests' load can stall a session for seconds.
    inference: { sessions: 2, intraOpThreads: 1, requestTimeoutMs: 60_000 },
    logger: quietLogger(),
    ...options,
  });
  await worker.start();
  return worker;
}

/** A backend with the pool's contract and no model: records each call, answers after `delayMs` or fails. */
class FakeBackend extends EventEmitter implements InferenceBackend {
  readonly provider = 'cpu' as const;
  readonly inputSize = { width: 416, height: 416 };
  readonly calls: { streams: string[]; confidence?: number }[] = [];
  closed = false;
  #busy = 0;
  constructor(
    readonly maxBatch: number,
    readonly slots: number,
    readonly delayMs: number,
    readonly fail = false,
  ) {
    super();
  }
  get freeSlots() {
    return this.closed ? 0 : Math.max(0, this.slots - this.#busy);
  }
  async infer(frames: readonly DecodedFrame[], options?: { confidence?: number }): Promise<InferResult[]> {
    assert.ok(frames.length >= 1 && frames.length <= this.maxBatch);
    this.#busy++;
    this.calls.push({
      streams: frames.map((f) => `${f.streamId}/${f.seq}`),
      confidence: options?.confidence,
    });
    await new Promise((r) => setTimeout(r, this.delayMs));
    this.#busy--;
    queueMicrotask(() => this.emit('slot', this.freeSlots));
    if (this.fail) throw new Error('the GPU caught fire');
    return frames.map(() => ({
      detections: [{ box: [1, 2, 3, 4], score: 0.9, classId: 0, label: 'person' }],
      geometry: {} as InferResult['geometry'],
      preprocessMs: 1,
      inferMs: 2,
      postprocessMs: 0.5,
      batchSize: frames.length,
      session: 0,
    }));
  }
  embed(): never {
    throw new Error('no');
  }
  async close() {
    this.closed = true;
  }
}

const fakeFactory =
  (backend: FakeBackend): InferenceBackendFactory =>
  async () =>
    backend;

describe('OverflowWorker with yolox_nano on Redis', () => {
  test('answers with the detections the local InferencePool finds; spreads entries of two edges over the sessions; registers with rates and deregisters', async () => {
    const prefix = freshPrefix();
    const sessions = new Set<number>();
    // The real pool, watched: which session ran each call (the wire does not say).
    const watching: InferenceBackendFactory = async (options) => {
      const pool = await InferencePool.create(options);
      const infer = pool.infer.bind(pool);
      pool.infer = async (frames, o) => {
        const results = await infer(frames, o);
        for (const r of results) sessions.add(r.session);
        return results;
      };
      return pool;
    };
    const worker = await startWorker(prefix, { workerId: 'gpu-1', inferenceBackend: watching });
    const keys = overflowKeys(prefix);
    try {
      // Registered at start: the key (expiring) and the set member.
      const registered = WorkerInfoSchema.parse(JSON.parse((await redis.get(keys.worker('gpu-1')))!));
      assert.equal(registered.id, 'gpu-1');
      assert.deepEqual(registered.models, [MODEL]);
      assert.equal(registered.provider, 'cpu');
      assert.equal(registered.maxBatch, 1, 'yolox_nano has a static batch of 1');
      assert.ok((await redis.pttl(keys.worker('gpu-1'))) > 0);
      assert.notEqual(await redis.zscore(keys.workers, 'gpu-1'), null);

      // Two edges, four entries in one go (raw RGB and JPEG).
      await addEntries(prefix, [
        entryFields('hub-a', 'edge-1', request('r1', [rawFrame(0)])),
        entryFields('hub-a', 'edge-2', request('r2', [await jpegFrame(0)])),
        entryFields('hub-a', 'edge-1', request('r3', [rawFrame(1), rawFrame(2)])),
        entryFields('hub-a', 'edge-2', request('r4', [rawFrame(3, 'cam9')])),
      ]);
      const got = await answers(prefix, 'hub-a', 4);
      const byId = new Map(got.map((g) => [g.answer.id, g]));
      assert.deepEqual([...byId.keys()].sort(), ['r1', 'r2', 'r3', 'r4']);
      for (const { answer } of got) {
        assert.equal(answer.ok, true, JSON.stringify(answer.error));
        assert.equal(answer.worker, 'gpu-1');
        assert.ok(answer.queuedMs! >= 0);
        for (const r of answer.results!) assert.equal(r.batchSize, 1);
      }
      assert.equal(byId.get('r1')!.edge, 'edge-1');
      assert.equal(byId.get('r2')!.edge, 'edge-2');
      assert.equal(byId.get('r3')!.answer.results!.length, 2);
      assert.deepEqual([...sessions].sort(), [0, 1], 'the entries ran on both sessions');

      // Exactly what the edge's own pool finds in the same pixels.
      const local = await InferencePool.create({
        model: model.entry,
        modelPath: model.path,
        labels: model.labels,
        inference: { sessions: 1, requestTimeoutMs: 60_000 },
        detector,
      });
      const [mine] = await local.infer([localFrame()]).finally(() => local.close());
      const remote = byId.get('r1')!.answer.results![0]!;
      assert.deepEqual(remote.detections, mine!.detections);
      const objects = (ds: { label: string }[]) => ({
        bus: ds.filter((d) => d.label === 'bus').length,
        people: ds.filter((d) => d.label === 'person').length,
      });
      const found = objects(mine!.detections);
      assert.ok(found.bus === 1 && found.people >= 3, JSON.stringify(found));
      // JPEG is lossy: the same bus and people, boxes within a few pixels.
      const fromJpeg = byId.get('r2')!.answer.results![0]!.detections;
      const jpegFound = objects(fromJpeg);
      assert.ok(jpegFound.bus === 1 && jpegFound.people >= 3, JSON.stringify(jpegFound));
      const bus = fromJpeg.find((d) => d.label === 'bus')!;
      const localBus = mine!.detections.find((d) => d.label === 'bus')!;
      for (let i = 0; i < 4; i++) assert.ok(Math.abs(bus.box[i]! - localBus.box[i]!) < 6, `${bus.box}`);

      assert.equal(await pendingCount(prefix), 0, 'every entry acked');
      assert.ok((await redis.pttl(keys.results('hub-a'))) > 0, 'the results stream expires');
      assert.deepEqual(worker.counters, { inFlight: 0, processed: 5, failed: 0, malformed: 0, expired: 0 });

      // The next heartbeat carries the work done.
      await new Promise((r) => setTimeout(r, 1200));
      const info = WorkerInfoSchema.parse(JSON.parse((await redis.get(keys.worker('gpu-1')))!));
      assert.equal(info.processed, 5);
      assert.equal(info.inFlight, 0);
      assert.ok(info.capacityFps > 0 && info.capacityFps < 1000, `capacity ${info.capacityFps}`);
      assert.ok(info.rateFps >= 0 && info.rateFps < 1000, `rate ${info.rateFps}`);
      assert.ok(info.heartbeatAt > registered.heartbeatAt);
    } finally {
      await worker.close();
    }
    assert.equal(await redis.exists(keys.worker('gpu-1')), 0, 'deregistered');
    assert.equal(await redis.zscore(keys.workers, 'gpu-1'), null);
  });
});

describe('OverflowWorker (backend stand-in)', () => {
  test('frames of entries from several edges share model calls up to maxBatch; other thresholds get calls of their own', async () => {
    const prefix = freshPrefix();
    const backend = new FakeBackend(4, 1, 150);
    const worker = await startWorker(prefix, { inferenceBackend: fakeFactory(backend) });
    try {
      // One entry occupies the only slot; the next ones queue meanwhile and are packed together.
      await addEntries(prefix, [entryFields('h', 'e0', request('first', [rawFrame(0, 'e0cam')]))]);
      while (backend.calls.length === 0) await new Promise((r) => setTimeout(r, 5));
      await addEntries(prefix, [
        entryFields('h', 'e1', request('a', [rawFrame(0, 'e1cam'), rawFrame(1, 'e1cam')])),
        entryFields('h', 'e2', request('b', [rawFrame(0, 'e2cam')])),
        entryFields(
          'h',
          'e3',
          request('c', [rawFrame(0, 'e3cam')], { decode: { confidence: 0.6, iou: 0.5 } }),
        ),
        entryFields('h', 'e4', request('d', [rawFrame(0, 'e4cam'), rawFrame(1, 'e4cam')])),
      ]);
      const got = await answers(prefix, 'h', 5);
      const batch = (id: string) =>
        got.find((g) => g.answer.id === id)!.answer.results!.map((r) => r.batchSize);
      assert.deepEqual(
        backend.calls.map((c) => c.streams),
        [['e0cam/0'], ['e1cam/0', 'e1cam/1', 'e2cam/0', 'e4cam/0'], ['e3cam/0'], ['e4cam/1']],
      );
      assert.deepEqual(batch('a'), [4, 4]);
      assert.deepEqual(batch('b'), [4]);
      assert.deepEqual(batch('c'), [1]);
      assert.equal(backend.calls[2]!.confidence, 0.6);
      assert.deepEqual(batch('d'), [4, 1], 'an entry may span two calls');
      assert.ok(got.every((g) => g.answer.ok));
      assert.equal(await pendingCount(prefix), 0);
    } finally {
      await worker.close();
    }
  });

  test('malformed entries are acked, counted and answered where they say where to; the worker keeps serving', async () => {
    const prefix = freshPrefix();
    const backend = new FakeBackend(4, 2, 5);
    const log = quietLogger();
    const worker = await startWorker(prefix, { inferenceBackend: fakeFactory(backend), logger: log });
    try {
      const good = request('good', [rawFrame()]);
      await addEntries(prefix, [
        ['hub', 'h', 'edge', 'e1', 'at', String(Date.now()), 'req', Buffer.from([0xc1, 0xff, 0x00])],
        entryFields('h', 'e2', { ...good, id: 'bad-schema', frames: [] }),
        entryFields('h', 'e3', { ...good, id: 'other-model', model: 'nosuch' }),
        entryFields('h', 'e4', { ...good, id: 'other-file', modelSha256: 'f'.repeat(64) }),
        entryFields('h', 'e5', {
          ...good,
          id: 'short',
          frames: [{ ...rawFrame(), data: new Uint8Array(10) }],
        }),
        ['edge', 'e6', 'at', '1', 'req', Buffer.from(encode(good))], // no hub: nowhere to answer
        ['hub', 'h', 'edge', 'e7', 'req', Buffer.from(encode({ ...good, id: 'no-at' }))],
      ]);
      await addEntries(prefix, [entryFields('h', 'e8', good)]);
      const got = await answers(prefix, 'h', 7);
      const byEdge = new Map(got.map((g) => [g.edge, g.answer]));
      assert.equal(byEdge.get('e8')!.ok, true, 'served after the bad ones');
      const refused = (edge: string, id: string, reason: RegExp) => {
        const a = byEdge.get(edge)!;
        assert.equal(a.ok, false);
        assert.equal(a.id, id);
        assert.equal(a.error!.code, OFFLOAD_FAILURES.FAILED);
        assert.match(a.error!.message, reason);
      };
      refused('e1', '', /not msgpack/);
      refused('e2', 'bad-schema', /not an infer request: frames/);
      refused('e3', 'other-model', /model "nosuch" is not served/);
      refused('e4', 'other-file', /sha256 f{64}/);
      refused('e5', 'short', /raw BGR24 frame of 312x416 needs 389376 bytes but has 10/);
      refused('e7', '', /invalid "at"/);
      assert.equal(byEdge.has('e6'), false);
      assert.equal(worker.counters.malformed, 7);
      assert.equal(worker.counters.processed, 1);
      assert.equal(log.warnings.filter((w) => w.startsWith('malformed overflow entry')).length, 7);
      assert.equal(await pendingCount(prefix), 0, 'all acked');
    } finally {
      await worker.close();
    }
  });

  test('an entry past its budget is answered EXPIRED; an inference error FAILED', async () => {
    const prefix = freshPrefix();
    const backend = new FakeBackend(4, 2, 5, true);
    const worker = await startWorker(prefix, { inferenceBackend: fakeFactory(backend) });
    try {
      await addEntries(prefix, [
        entryFields('h', 'e1', request('late', [rawFrame()], { budgetMs: 500 }), Date.now() - 1000),
        entryFields('h', 'e2', request('boom', [rawFrame()])),
      ]);
      const got = await answers(prefix, 'h', 2);
      const late = got.find((g) => g.answer.id === 'late')!.answer;
      assert.equal(late.ok, false);
      assert.equal(late.error!.code, OFFLOAD_FAILURES.EXPIRED);
      assert.ok(late.queuedMs! >= 1000);
      const boom = got.find((g) => g.answer.id === 'boom')!.answer;
      assert.equal(boom.error!.code, OFFLOAD_FAILURES.FAILED);
      assert.match(boom.error!.message, /the GPU caught fire/);
      assert.equal(backend.calls.length, 1, 'the expired entry never reached the model');
      assert.deepEqual(worker.counters, { inFlight: 0, processed: 0, failed: 1, malformed: 0, expired: 1 });
      assert.equal(await pendingCount(prefix), 0);
    } finally {
      await worker.close();
    }
  });

  test('takes over an entry a dead consumer read and never acked, after claimIdleMs', async () => {
    const prefix = freshPrefix();
    const stream = overflowKeys(prefix).requests(MODEL);
    await redis.xgroup('CREATE', stream, OVERFLOW_GROUP, '$', 'MKSTREAM');
    await addEntries(prefix, [entryFields('h', 'e1', request('orphan', [rawFrame()]))]);
    const read = (await redis.xreadgroup(
      'GROUP',
      OVERFLOW_GROUP,
      'dead-worker',
      'COUNT',
      10,
      'STREAMS',
      stream,
      '>',
    )) as [string, unknown[]][];
    assert.equal(read[0]![1].length, 1);
    const readAt = Date.now();
    const backend = new FakeBackend(4, 2, 5);
    const worker = await startWorker(prefix, { inferenceBackend: fakeFactory(backend), claimIdleMs: 400 });
    try {
      const [got] = await answers(prefix, 'h', 1);
      assert.equal(got!.answer.id, 'orphan');
      assert.equal(got!.answer.ok, true);
      assert.ok(Date.now() - readAt >= 400, 'not before it was idle for claimIdleMs');
      assert.equal(await pendingCount(prefix), 0);
    } finally {
      await worker.close();
    }
  });
});

describe('OverflowWorker start', () => {
  test('an unreachable Redis or an unknown model fails start() with a clear error', async () => {
    await assert.rejects(
      startWorker(freshPrefix(), {
        redisUrl: 'redis://127.0.0.1:1',
        inferenceBackend: fakeFactory(new FakeBackend(1, 1, 1)),
      }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'STORE_UNAVAILABLE');
        assert.match(err.message, /Cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
        return true;
      },
    );
    await assert.rejects(startWorker(freshPrefix(), { models: ['nosuch'] }), { code: 'MODEL_UNKNOWN' });
  });
});
