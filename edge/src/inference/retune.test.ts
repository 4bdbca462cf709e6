// Re-tuning at start: a stored tuning of another model file or provider is measured again, stored and used.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { DecodedFrame } from '../frame.ts';
import { findModel, loadManifest } from '../models/manifest.ts';
import type { InferenceBackend, InferenceBackendFactory } from './backend.ts';
import type { InferResult } from './protocol.ts';
import { retuneIfStale, syntheticImage } from './retune.ts';
import { findTuning, hostIdentity, storeTuning, type Tuning, tunedInference } from './tuning.ts';

const tmp = mkdtempSync(join(tmpdir(), 'sightline-retune-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const entry = findModel(await loadManifest(), 'yolox_nano');
const model = { entry, path: '/nonexistent/yolox_nano.onnx', labels: [] as string[] };
const image = syntheticImage(64, 48);

/** A backend that answers at once; two sessions' worth of slots do more frames per second than one. */
class QuickBackend extends EventEmitter implements InferenceBackend {
  readonly provider = 'cpu' as const;
  readonly maxBatch = 1;
  readonly inputSize = { width: 416, height: 416 };
  readonly freeSlots = 1;
  closed = false;
  constructor(readonly delayMs: number) {
    super();
  }
  async infer(frames: readonly DecodedFrame[]): Promise<InferResult[]> {
    await new Promise((r) => setTimeout(r, this.delayMs));
    return frames.map(() => ({
      detections: [],
      geometry: {} as InferResult['geometry'],
      preprocessMs: 0,
      inferMs: 0,
      postprocessMs: 0,
      batchSize: 1,
      session: 0,
    }));
  }
  embed(): never {
    throw new Error('not used');
  }
  async close() {
    this.closed = true;
  }
}

function setup(stored: Partial<Tuning> | undefined) {
  const stateDir = join(tmp, `state-${n++}`);
  if (stored) {
    storeTuning(
      {
        ...hostIdentity(),
        model: entry.id,
        sha256: entry.sha256,
        provider: 'cpu',
        measuredAt: '2026-01-02T03:04:05.000Z',
        budgetMs: 250,
        secondsPerCandidate: 3,
        layout: { sessions: 1, intraOpThreads: 1, spinning: false },
        withinBudget: true,
        table: [],
        ...stored,
      },
      stateDir,
    );
  }
  const layouts: unknown[] = [];
  const factory: InferenceBackendFactory = async (o) => {
    layouts.push(o.inference);
    if (o.inference?.sessions === 2 && o.inference?.intraOpThreads === 1) return new QuickBackend(2);
    return new QuickBackend(20);
  };
  const lines: { level: string; message: string }[] = [];
  const log = {
    info: (_: unknown, message: string) => lines.push({ level: 'info', message }),
    warn: (_: unknown, message: string) => lines.push({ level: 'warn', message }),
  };
  return { stateDir, layouts, factory, lines, log };
}

describe('retuneIfStale', () => {
  test('a tuning of another model file is measured again, stored, and then used', async () => {
    const s = setup({ sha256: 'c'.repeat(64) });
    const tuning = await retuneIfStale(model, {}, { ...s, image, seconds: 0.1 });
    assert.ok(tuning, 'a new tuning');
    assert.equal(tuning.sha256, entry.sha256);
    assert.ok(s.layouts.length >= 2, 'every candidate layout was started');
    // The fastest layout within the budget won: the one whose backend answers in 2 ms.
    assert.deepEqual(
      [tuning.layout.sessions, tuning.layout.intraOpThreads, tuning.layout.spinning],
      [2, 1, false],
    );
    assert.match(
      s.lines[0]!.message,
      /^re-tuning yolox_nano on cpu before it starts: the model file changed/,
    );
    assert.equal(s.lines[0]!.level, 'warn');
    assert.match(s.lines.at(-1)!.message, /^re-tuned yolox_nano on cpu: 2 sessions x 1 thread/);
    assert.equal(findTuning(entry, 'cpu', { stateDir: s.stateDir }).tuning?.measuredAt, tuning.measuredAt);
    assert.equal(tunedInference(entry, 'cpu', {}, { stateDir: s.stateDir }).inference.sessions, 2);
  });

  test('a tuning for another provider is measured again for the provider in use', async () => {
    const s = setup({ provider: 'cuda' });
    const tuning = await retuneIfStale(model, { providers: ['cpu'] }, { ...s, image, seconds: 0.05 });
    assert.equal(tuning?.provider, 'cpu');
    assert.match(s.lines[0]!.message, /provider changed \(tuned for cuda, now cpu\)/);
  });

  test('nothing is measured for a current tuning, none stored, or a config that sets the layout', async () => {
    for (const [stored, inference] of [
      [{}, {}],
      [undefined, {}],
      [{ sha256: 'c'.repeat(64) }, { sessions: 1 }],
      [{ sha256: 'c'.repeat(64) }, { batchSize: 4 }],
    ] as const) {
      const s = setup(stored);
      assert.equal(await retuneIfStale(model, inference, { ...s, image, seconds: 0.05 }), undefined);
      assert.deepEqual(s.layouts, []);
      assert.deepEqual(s.lines, []);
    }
  });

  test('no layout can run: undefined, a warning, and the stale tuning stays ignored', async () => {
    const s = setup({ sha256: 'c'.repeat(64) });
    const failing: InferenceBackendFactory = async () => {
      throw new Error('no such provider here');
    };
    const tuning = await retuneIfStale(model, {}, { ...s, factory: failing, image, seconds: 0.05 });
    assert.equal(tuning, undefined);
    assert.match(
      s.lines.at(-1)!.message,
      /found no layout that runs \(no such provider here\); starting on defaults/,
    );
    assert.equal(findTuning(entry, 'cpu', { stateDir: s.stateDir }).tuning, undefined);
  });
});
