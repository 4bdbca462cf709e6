/**
 * Faults of the inference pool's session workers: a crash (as a native fault would) and a hang (as a stuck native
 * run would). The pool runs the real session worker wrapped by faulty-session-worker.ts (its `workerUrl` option),
 * which takes its faults from a BroadcastChannel; production code has no test hooks.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BroadcastChannel } from 'node:worker_threads';
import {
  type DecodedFrame,
  InferencePool,
  type LoadedModel,
  loadImageBgr,
  loadModel,
  type PoolLogger,
} from '@sightline/edge';
import { InferenceConfig, InferenceError, type SightlineError } from '@sightline/shared';
import { media } from '../helpers/wait.ts';
import type { FaultMessage } from './faulty-session-worker.ts';

// One channel per test process: the workers this file's pools start read their faults from it.
process.env.SIGHTLINE_FAULT_CHANNEL = `sightline-session-faults-${process.pid}`;
const faults = new BroadcastChannel(process.env.SIGHTLINE_FAULT_CHANNEL);
faults.unref();
const workerUrl = new URL('./faulty-session-worker.ts', import.meta.url);

/** Make session `session` of every pool of this file crash or hang. */
function inject(session: number, fault: FaultMessage['fault']): void {
  faults.postMessage({ session, fault } satisfies FaultMessage);
}

const tmp = mkdtempSync(join(tmpdir(), 'sightline-pool-faults-'));
let model: LoadedModel;
let bus: { data: Uint8Array; width: number; height: number };

before(async () => {
  model = await loadModel('yolox_nano', { verify: false });
  bus = loadImageBgr(media('bus.jpg'));
});
after(() => {
  faults.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** A fresh frame of bus.jpg (infer() transfers the pixel buffer, so each call needs its own). */
function busFrame(seq = 0): DecodedFrame {
  return {
    data: bus.data.slice(),
    width: bus.width,
    height: bus.height,
    sourceWidth: bus.width,
    sourceHeight: bus.height,
    streamId: 'cam1',
    seq,
    pts: seq * 9000,
    capturedAt: Date.now(),
    decodeMs: 0,
  };
}

function recordingLogger(): PoolLogger & { warnings: string[]; errors: string[] } {
  const warnings: string[] = [];
  const errors: string[] = [];
  return {
    warnings,
    errors,
    info: () => {},
    warn: (data, message) => warnings.push(`${message} ${JSON.stringify(data)}`),
    error: (data, message) => errors.push(`${message} ${JSON.stringify(data)}`),
  };
}

/** Timers the process holds now (the pool's restart timers are among them while one is pending). */
const activeTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

const detector = { confidence: 0.3, iou: 0.45 };

describe('InferencePool session faults (cpu)', () => {
  test('a crashing worker rejects its calls with InferenceError and is replaced', async () => {
    const pool = await InferencePool.create({
      model: model.entry,
      modelPath: model.path,
      labels: model.labels,
      inference: { sessions: 1, inflightPerSession: 2 },
      detector,
      workerUrl,
      logger: recordingLogger(),
    });
    try {
      const restarted = new Promise<number>((resolve) => pool.once('session-restart', resolve));
      const pending = pool.infer([busFrame()]);
      inject(0, 'crash');
      // The run may finish before the crash lands; otherwise the call must fail with the crash.
      const outcome = await pending.then(
        () => 'done',
        (err: unknown) => err,
      );
      assert.ok(
        outcome === 'done' ||
          (outcome instanceof InferenceError && /session 0 crashed/.test(outcome.message)),
        String(outcome),
      );
      assert.equal(await restarted, 0);
      const [r] = await pool.infer([busFrame()]);
      assert.equal(r!.detections.length, 4);
    } finally {
      await pool.close();
    }
  });

  test("a session that cannot be restarted: 'failed' once every session gave up, then infer() rejects at once", async () => {
    const copy = join(tmp, 'vanishing.onnx');
    copyFileSync(model.path, copy);
    const pool = await InferencePool.create({
      model: model.entry,
      modelPath: copy,
      labels: model.labels,
      inference: { sessions: 1 },
      detector,
      workerUrl,
      logger: recordingLogger(),
    });
    try {
      const failed = new Promise<InferenceError>((resolve) => pool.once('failed', resolve));
      writeFileSync(copy, 'definitely not a protobuf model'); // every restart now fails to load it
      inject(0, 'crash');
      // Nothing else holds the event loop open here: the pool's pending retry timers must keep it alive.
      const err = await failed;
      assert.equal(err.code, 'INFERENCE_FAILED');
      assert.match(err.message, /could not be restarted: .*not a valid ONNX model/);
      assert.equal(pool.freeSlots, 0);
      await assert.rejects(pool.infer([busFrame()]), (e: unknown) => e === err);
    } finally {
      await pool.close();
    }
  });

  test('close() while a restart waits to retry cancels it, so the pool holds no timer afterwards', async () => {
    const copy = join(tmp, 'vanishing-2.onnx');
    copyFileSync(model.path, copy);
    const logger = recordingLogger();
    const pool = await InferencePool.create({
      model: model.entry,
      modelPath: copy,
      labels: model.labels,
      inference: { sessions: 1 },
      detector,
      workerUrl,
      logger,
    });
    writeFileSync(copy, 'definitely not a protobuf model');
    inject(0, 'crash');
    const deadline = Date.now() + 20_000;
    while (!logger.errors.some((e) => e.startsWith('inference session restart failed'))) {
      assert.ok(Date.now() < deadline, `no failed restart: ${logger.errors.join('\n')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const before = activeTimers(); // the retry timer (250 ms) is pending now
    await pool.close();
    assert.equal(activeTimers(), before - 1, 'close() cleared the pending retry timer');
  });

  test('a session that hangs: its requests reject with INFERENCE_TIMEOUT, the worker is replaced', {
    timeout: 60_000,
  }, async () => {
    assert.equal(InferenceConfig.parse({}).requestTimeoutMs, 10_000, 'the default');
    const pool = await InferencePool.create({
      model: model.entry,
      modelPath: model.path,
      labels: model.labels,
      inference: { sessions: 1, inflightPerSession: 2, requestTimeoutMs: 1500 },
      detector,
      workerUrl,
      logger: recordingLogger(),
    });
    try {
      await pool.infer([busFrame()]); // a run well within the limit
      const crashed = new Promise<SightlineError>((resolve) =>
        pool.once('session-crash', (_i, error) => resolve(error)),
      );
      const restarted = new Promise<number>((resolve) => pool.once('session-restart', resolve));
      inject(0, 'hang');
      const t0 = performance.now();
      const calls = [pool.infer([busFrame(1)]), pool.infer([busFrame(2)])];
      for (const call of calls) {
        await assert.rejects(
          call,
          (e: unknown) =>
            e instanceof InferenceError &&
            e.code === 'INFERENCE_TIMEOUT' &&
            /session 0 answered no request for 1500 ms/.test(e.message),
        );
      }
      const waited = performance.now() - t0;
      assert.ok(waited >= 1400 && waited < 10_000, `rejected after ${waited.toFixed(0)} ms`);
      assert.equal((await crashed).code, 'INFERENCE_TIMEOUT');
      assert.equal(await restarted, 0);
      const [r] = await pool.infer([busFrame(3)]);
      assert.equal(r!.detections.length, 4, 'the replacement session works');
    } finally {
      await pool.close();
    }
  });
});
