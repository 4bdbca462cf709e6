/**
 * The worker starts a model with a stored tuning (`sightline tune`) when its settings leave the layout unset; a
 * batch-agnostic detector given a batch size runs its rewritten dynamic-batch graph.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decode, encode } from '@msgpack/msgpack';
import {
  hostIdentity,
  type InferenceBackend,
  type InferenceBackendFactory,
  InferencePool,
  type LoadedModel,
  loadModel,
  readTunings,
  storeTuning,
  type Tuning,
} from '@sightline/edge';
import {
  type InferRequest,
  InferredSchema,
  type OffloadFrame,
  overflowKeys,
  WorkerInfoSchema,
} from '@sightline/shared';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { OverflowWorker, type OverflowWorkerOptions } from './overflow-worker.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const MODEL = 'yolox_nano';
const prefix = `sightline-test-tuning-${process.pid}:`;
let model: LoadedModel;
before(async () => {
  model = await loadModel(MODEL, { verify: false });
});
after(async () => {
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

/** A backend that runs nothing: the test only looks at the settings it was started with. */
class IdleBackend extends EventEmitter implements InferenceBackend {
  readonly provider = 'cpu' as const;
  readonly inputSize = { width: 416, height: 416 };
  readonly maxBatch = 1;
  readonly freeSlots = 1;
  closed = false;
  infer(_frames: readonly unknown[]): never {
    throw new Error('not used');
  }
  embed(): never {
    throw new Error('not used');
  }
  async close() {
    this.closed = true;
  }
}

const silent = { info: () => {}, warn: () => {}, error: () => {} };

/** A tuning of MODEL on this host (1 session x 2 threads, spinning), measured for the model file `sha256`. */
function storedTuning(sha256: string): Tuning {
  return {
    ...hostIdentity(),
    model: MODEL,
    sha256,
    provider: 'cpu',
    measuredAt: '2026-01-02T03:04:05.000Z',
    budgetMs: 250,
    secondsPerCandidate: 3,
    layout: { sessions: 1, intraOpThreads: 2, spinning: true },
    withinBudget: true,
    table: [],
  };
}

async function startWorker(options: Partial<OverflowWorkerOptions>) {
  const worker = new OverflowWorker({
    models: [MODEL],
    redisUrl: REDIS_URL,
    prefix,
    logger: silent,
    ...options,
  });
  await worker.start();
  return worker;
}

describe('OverflowWorker with a stored tuning', () => {
  test('a model whose inference sets no layout field starts with the tuned layout; explicit settings win', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'sightline-worker-tuning-'));
    try {
      storeTuning(storedTuning(model.entry.sha256), stateDir);
      const seen: unknown[] = [];
      const factory: InferenceBackendFactory = async (o) => {
        seen.push(o.inference);
        return new IdleBackend();
      };
      const logs: string[] = [];
      const logger = { ...silent, info: (_: unknown, message: string) => logs.push(message) };
      const tuned = await startWorker({
        inference: { requestTimeoutMs: 60_000 },
        inferenceBackend: factory,
        tuning: { stateDir },
        logger,
      });
      await tuned.close();
      assert.deepEqual(seen[0], { requestTimeoutMs: 60_000, sessions: 1, intraOpThreads: 2, spinning: true });
      assert.ok(
        logs.some((l) =>
          /^using tuned layout 1 session x 2 threads, spinning on measured 2026-01-02/.test(l),
        ),
      );
      const explicit = await startWorker({
        inference: { sessions: 3 },
        inferenceBackend: factory,
        tuning: { stateDir },
      });
      await explicit.close();
      assert.deepEqual(seen[1], { sessions: 3 });
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});

describe('OverflowWorker with a stale tuning', () => {
  test('a tuning of another model file is measured again before the model starts, stored and used', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'sightline-worker-retune-'));
    try {
      storeTuning(storedTuning('c'.repeat(64)), stateDir);
      const seen: { sessions?: number; intraOpThreads?: number }[] = [];
      /** Answers at once; its measured rate does not matter, only that every layout runs. */
      class QuickBackend extends IdleBackend {
        override infer(frames: readonly unknown[]): never {
          return Promise.resolve(
            frames.map(() => ({
              detections: [],
              geometry: {},
              preprocessMs: 0,
              inferMs: 0,
              postprocessMs: 0,
              batchSize: 1,
              session: 0,
            })),
          ) as never;
        }
      }
      const factory: InferenceBackendFactory = async (o) => {
        seen.push(o.inference as (typeof seen)[number]);
        return new QuickBackend();
      };
      const logs: string[] = [];
      const logger = {
        ...silent,
        warn: (_: unknown, m: string) => logs.push(m),
        info: (_: unknown, m: string) => logs.push(m),
      };
      const worker = await startWorker({ inferenceBackend: factory, tuning: { stateDir }, logger });
      await worker.close();
      assert.ok(
        logs.some((l) => /^re-tuning yolox_nano on cpu before it starts: the model file changed/.test(l)),
      );
      const stored = Object.values(readTunings(stateDir).tunings).find(
        (t) => t.sha256 === model.entry.sha256,
      );
      assert.ok(stored, 'the new tuning is stored under the current model file');
      assert.ok(seen.length > 2, 'the layouts were measured');
      const serving = seen.at(-1)!;
      assert.equal(serving.sessions, stored.layout.sessions);
      assert.equal(serving.intraOpThreads, stored.layout.intraOpThreads);
      assert.ok(logs.some((l) => /^using tuned layout .* measured /.test(l)));
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});

describe('OverflowWorker with a batch-agnostic detector', () => {
  test('batch size 4: one model call takes frames of two edges, registers maxBatch 4, same detections as batch 1', async () => {
    const redis = new Redis(REDIS_URL);
    const size = { width: 312, height: 416, sourceWidth: 810, sourceHeight: 1080 };
    const rgb = await sharp(join(process.env.SIGHTLINE_MEDIA_DIR ?? '', 'bus.jpg'))
      .resize(size.width, size.height, { fit: 'fill' })
      .removeAlpha()
      .raw()
      .toBuffer();
    const bgr = new Uint8Array(rgb.length);
    for (let i = 0; i < rgb.length; i += 3)
      [bgr[i], bgr[i + 1], bgr[i + 2]] = [rgb[i + 2]!, rgb[i + 1]!, rgb[i]!];
    const frame = (streamId: string, seq: number): OffloadFrame => ({
      streamId,
      seq,
      encoding: 'raw',
      ...size,
      data: bgr.slice(),
    });
    const decodeAt = { confidence: 0.3, iou: 0.45 };
    const request = (id: string, frames: OffloadFrame[]): InferRequest => ({
      t: 'infer',
      id,
      model: MODEL,
      budgetMs: 60_000,
      decode: decodeAt,
      frames,
    });
    const keys = overflowKeys(prefix);
    const worker = await startWorker({
      workerId: 'batched',
      inference: { sessions: 1, intraOpThreads: 1, batchSize: 4, requestTimeoutMs: 60_000 },
    });
    try {
      const info = WorkerInfoSchema.parse(JSON.parse((await redis.get(keys.worker('batched')))!));
      assert.equal(info.maxBatch, 4);
      const tx = redis.multi();
      for (const [edge, req] of [
        ['edge-1', request('b1', [frame('cam1', 0), frame('cam1', 1)])],
        ['edge-2', request('b2', [frame('cam2', 0), frame('cam2', 1)])],
      ] as const) {
        tx.xadd(
          keys.requests(MODEL),
          '*',
          'hub',
          'hub-b',
          'edge',
          edge,
          'at',
          String(Date.now()),
          'req',
          Buffer.from(encode(req)),
        );
      }
      await tx.exec();
      const deadline = Date.now() + 60_000;
      let entries = await redis.xrangeBuffer(keys.results('hub-b'), '-', '+');
      while (entries.length < 2) {
        assert.ok(Date.now() < deadline, 'two answers within 60 s');
        await new Promise((r) => setTimeout(r, 20));
        entries = await redis.xrangeBuffer(keys.results('hub-b'), '-', '+');
      }
      const answers = entries.map(([, fields]) =>
        InferredSchema.parse(decode(fields[fields.findIndex((f) => String(f) === 'answer') + 1]!)),
      );
      const local = await InferencePool.create({
        model: model.entry,
        modelPath: model.path,
        labels: model.labels,
        inference: { sessions: 1, requestTimeoutMs: 60_000 },
        detector: decodeAt,
      });
      const [alone] = await local
        .infer([
          {
            ...size,
            data: bgr.slice(),
            streamId: 'cam1',
            seq: 0,
            pts: 0,
            capturedAt: Date.now(),
            decodeMs: 0,
          },
        ])
        .finally(() => local.close());
      assert.ok(alone!.detections.some((d) => d.label === 'bus'));
      for (const answer of answers) {
        assert.equal(answer.ok, true, JSON.stringify(answer.error));
        // Both entries were waiting when the worker read them: one call of four frames.
        for (const r of answer.results!) {
          assert.equal(r.batchSize, 4);
          assert.deepEqual(r.detections, alone!.detections);
        }
      }
    } finally {
      await worker.close();
      redis.disconnect();
    }
  });
});
