/** The worker starts a model with a stored tuning (`sightline tune`) when its settings leave the layout unset. */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  hostIdentity,
  type InferenceBackend,
  type InferenceBackendFactory,
  type LoadedModel,
  loadModel,
  storeTuning,
} from '@sightline/edge';
import { Redis } from 'ioredis';
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
  infer(): never {
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
      storeTuning(
        {
          ...hostIdentity(),
          model: MODEL,
          sha256: model.entry.sha256,
          provider: 'cpu',
          measuredAt: '2026-01-02T03:04:05.000Z',
          budgetMs: 250,
          secondsPerCandidate: 3,
          layout: { sessions: 1, intraOpThreads: 2, spinning: true },
          withinBudget: true,
          table: [],
        },
        stateDir,
      );
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
