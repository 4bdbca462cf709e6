// An edge started with a stored tuning of another model file measures the layouts again before it starts, stores
// the new tuning and runs with it (EdgeRuntime option retuneStale, on by default with inferenceInput).
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  type DecodedFrame,
  EdgeRuntime,
  hostIdentity,
  type InferenceBackend,
  type InferenceBackendFactory,
  readTunings,
  storeTuning,
} from '@sightline/edge';
import { parseEdgeConfig } from '@sightline/shared';
import { media, waitForResults } from './helpers.ts';

const YOLOX_SHA256 = 'd39bee73564e338080378b0ad567fbb40e818b55bbfaf971de82a0267ed16b8a';

/** Answers every frame at once with no detections: the test looks at the layouts, not at what is found. */
class QuickBackend extends EventEmitter implements InferenceBackend {
  readonly provider = 'cpu' as const;
  readonly maxBatch = 1;
  readonly inputSize = { width: 416, height: 416 };
  readonly freeSlots = 1;
  closed = false;
  async infer(frames: readonly DecodedFrame[]) {
    await new Promise((r) => setTimeout(r, 1));
    return frames.map(() => ({
      detections: [],
      geometry: { scaleX: 1, scaleY: 1, offsetX: 0, offsetY: 0, inputWidth: 416, inputHeight: 416 },
      preprocessMs: 0,
      inferMs: 0,
      postprocessMs: 0,
      batchSize: 1,
      session: 0,
    })) as never;
  }
  embed(): never {
    throw new Error('not used');
  }
  async close() {
    this.closed = true;
  }
}

test('a stale tuning is measured again before the edge starts, and the edge runs the new one', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'sightline-edge-retune-'));
  storeTuning(
    {
      ...hostIdentity(),
      model: 'yolox_nano',
      sha256: 'c'.repeat(64),
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
  const started: { sessions?: number; intraOpThreads?: number }[] = [];
  const factory: InferenceBackendFactory = async (o) => {
    started.push(o.inference as (typeof started)[number]);
    return new QuickBackend();
  };
  const runtime = new EdgeRuntime(
    parseEdgeConfig({
      edgeId: 'e2e-retune',
      streams: [{ id: 'cam', source: media('vtest_h264.mp4'), realtime: false, maxFrames: 10 }],
    }),
    { inferenceInput: {}, stateDir, inferenceBackend: factory },
  );
  try {
    await runtime.start();
    await waitForResults(runtime, 'cam', 3, 60_000);
    const stored = Object.values(readTunings(stateDir).tunings).find((t) => t.sha256 === YOLOX_SHA256);
    assert.ok(stored, 'a tuning of the current model file is stored');
    assert.ok(started.length > 2, `the layouts were measured (${started.length} backends started)`);
    const serving = started.at(-1)!;
    assert.equal(serving.sessions, stored.layout.sessions);
    assert.equal(serving.intraOpThreads, stored.layout.intraOpThreads);
  } finally {
    await runtime.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
});
