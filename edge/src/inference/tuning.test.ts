import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { InferenceConfig } from '@sightline/shared';
import { findModel, loadManifest } from '../models/manifest.ts';
import {
  chooseLayout,
  findTuning,
  hostIdentity,
  readTunings,
  storeTuning,
  type Tuning,
  type TuningRow,
  tunedInference,
  tuningCandidates,
  tuningKey,
  tuningPath,
  withStoredTuning,
} from './tuning.ts';
import { percentile } from './tuning-run.ts';

const manifestEntry = findModel(await loadManifest(), 'yolox_nano');

const tmp = mkdtempSync(join(tmpdir(), 'sightline-tuning-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(tmp, `state-${n++}`);

const row = (sessions: number, threads: number, fps: number, p95Ms: number, extra: Partial<TuningRow> = {}) =>
  ({
    layout: { sessions, intraOpThreads: threads, spinning: false },
    fps,
    p50Ms: p95Ms / 2,
    p95Ms,
    calls: 10,
    ...extra,
  }) satisfies TuningRow;

const entry = {
  id: 'yolox_nano',
  sha256: 'a'.repeat(64),
  input: { name: 'images', shape: [1, 3, 416, 416] },
  maxBatch: 1,
};
const dynamicEntry = { ...entry, id: 'osnet', input: { name: 'x', shape: [-1, 3, 256, 128] }, maxBatch: 32 };

function tuning(over: Partial<Tuning> = {}): Tuning {
  const { host, cpus } = hostIdentity();
  return {
    host,
    cpus,
    model: entry.id,
    sha256: entry.sha256,
    provider: 'cpu',
    measuredAt: '2026-01-02T03:04:05.000Z',
    budgetMs: 250,
    secondsPerCandidate: 3,
    layout: { sessions: 2, intraOpThreads: 1, spinning: false },
    withinBudget: true,
    table: [],
    ...over,
  };
}

function recorder() {
  const lines: { level: string; message: string; data: Record<string, unknown> }[] = [];
  return {
    lines,
    log: {
      info: (data: Record<string, unknown>, message: string) => lines.push({ level: 'info', message, data }),
      warn: (data: Record<string, unknown>, message: string) => lines.push({ level: 'warn', message, data }),
    },
  };
}

describe('chooseLayout: the fastest layout within the latency budget', () => {
  test('picks the highest throughput whose p95 is within the budget', () => {
    const table = [row(1, 1, 50, 60), row(1, 2, 55, 70), row(2, 1, 80, 300)];
    const chosen = chooseLayout(table, 250);
    assert.deepEqual(chosen?.row.layout, table[1]!.layout);
    assert.equal(chosen?.withinBudget, true);
    // A looser budget lets the fastest one in.
    assert.deepEqual(chooseLayout(table, 300)?.row.layout, table[2]!.layout);
  });

  test('ties go to the layout with fewer threads in all; failed rows never win', () => {
    const table = [row(2, 1, 60, 50), row(1, 1, 60, 50), row(1, 2, 99, 1, { error: 'boom', calls: 0 })];
    assert.deepEqual(chooseLayout(table, 100)?.row.layout, table[1]!.layout);
  });

  test('none within the budget: the lowest p95, withinBudget false; nothing ran: undefined', () => {
    const chosen = chooseLayout([row(1, 1, 50, 400), row(2, 1, 90, 300)], 100);
    assert.equal(chosen?.withinBudget, false);
    assert.equal(chosen?.row.p95Ms, 300);
    assert.equal(chooseLayout([row(1, 1, 0, 0, { error: 'no', calls: 0 })], 100), undefined);
    assert.equal(chooseLayout([], 100), undefined);
  });

  test('percentile is nearest-rank', () => {
    assert.equal(percentile([5, 1, 4, 2, 3], 50), 3);
    assert.equal(
      percentile(
        Array.from({ length: 100 }, (_, i) => i + 1),
        95,
      ),
      95,
    );
    assert.equal(percentile([], 95), 0);
  });
});

describe('tuningCandidates', () => {
  test('static batch: sessions x threads within the CPUs, spinning on and off where there is a thread pool', () => {
    const c = tuningCandidates(entry, 4);
    assert.ok(c.every((l) => l.sessions * l.intraOpThreads <= 4 && l.batchSize === undefined));
    assert.ok(c.some((l) => l.sessions === 4 && l.intraOpThreads === 1));
    assert.ok(c.some((l) => l.intraOpThreads === 2 && l.spinning));
    assert.ok(!c.some((l) => l.intraOpThreads === 1 && l.spinning));
    assert.equal(tuningCandidates(entry, 1).length, 1);
  });

  test('dynamic batch: batch 1, 2, 4, ... up to the model maxBatch (at most 64)', () => {
    assert.deepEqual(
      tuningCandidates(dynamicEntry, 2).map((l) => l.batchSize),
      [1, 2, 4, 8, 16, 32],
    );
    assert.deepEqual(
      tuningCandidates({ ...dynamicEntry, maxBatch: 12 }, 2).map((l) => l.batchSize),
      [1, 2, 4, 8, 12],
    );
    assert.deepEqual(tuningCandidates({ ...dynamicEntry, maxBatch: 500 }, 2).at(-1)?.batchSize, 64);
  });

  test("batch-agnostic: the file's single-image layouts, then its rewritten graph at batch 2 ... 64", () => {
    const c = tuningCandidates({ ...entry, batchAgnostic: true }, 2);
    const single = tuningCandidates(entry, 2);
    assert.deepEqual(c.slice(0, single.length), single);
    assert.deepEqual(
      c.slice(single.length).map((l) => [l.sessions, l.intraOpThreads, l.batchSize]),
      [2, 4, 8, 16, 32, 64].map((b) => [1, 2, b]),
    );
  });
});

describe('stored tunings', () => {
  test('store, read back by host + model sha + provider + CPUs; re-tuning replaces the old file sha', () => {
    const dir = freshDir();
    const path = storeTuning(tuning(), dir);
    assert.equal(path, tuningPath(dir));
    assert.equal(findTuning(entry, 'cpu', { stateDir: dir }).tuning?.layout.sessions, 2);
    const stored = JSON.parse(readFileSync(path, 'utf8'));
    assert.ok(stored.tunings[tuningKey(tuning())]);
    // A new model file: the new tuning replaces the one of the old file.
    storeTuning(tuning({ sha256: 'b'.repeat(64) }), dir);
    assert.deepEqual(
      Object.values(readTunings(dir).tunings).map((t) => t.sha256),
      ['b'.repeat(64)],
    );
    // Other providers are kept side by side.
    storeTuning(tuning({ sha256: 'b'.repeat(64), provider: 'cuda' }), dir);
    assert.equal(Object.keys(readTunings(dir).tunings).length, 2);
  });

  test('an absent or malformed file holds none', () => {
    const dir = freshDir();
    assert.deepEqual(readTunings(dir).tunings, {});
    storeTuning(tuning(), dir);
    writeFileSync(tuningPath(dir), 'not json');
    assert.deepEqual(readTunings(dir).tunings, {});
  });

  test('tunedInference uses the stored layout when the config sets no layout field, and says so', () => {
    const dir = freshDir();
    storeTuning(tuning(), dir);
    const { log, lines } = recorder();
    const r = tunedInference(entry, undefined, { providers: ['cpu'], maxWaitMs: 3 }, { stateDir: dir, log });
    assert.deepEqual(r.inference, {
      providers: ['cpu'],
      maxWaitMs: 3,
      sessions: 2,
      intraOpThreads: 1,
      spinning: false,
    });
    assert.match(
      lines[0]!.message,
      /^using tuned layout 2 sessions x 1 thread, spinning off measured 2026-01-02/,
    );
  });

  test('explicit config wins: any layout field set means the tuning is not used', () => {
    const dir = freshDir();
    storeTuning(tuning(), dir);
    const { log, lines } = recorder();
    const r = tunedInference(entry, 'cpu', { sessions: 1 }, { stateDir: dir, log });
    assert.deepEqual(r.inference, { sessions: 1 });
    assert.equal(r.tuning, undefined);
    assert.match(lines[0]!.message, /not used: the config sets inference.sessions/);
  });

  test('a tuning of another model file or provider is ignored with a line saying to re-run sightline tune', () => {
    const dir = freshDir();
    storeTuning(tuning({ sha256: 'c'.repeat(64) }), dir);
    const { log, lines } = recorder();
    assert.deepEqual(tunedInference(entry, 'cpu', {}, { stateDir: dir, log }).inference, {});
    assert.equal(lines[0]!.level, 'warn');
    assert.match(
      lines[0]!.message,
      /model file changed .*re-run "sightline tune --model yolox_nano --provider cpu"/,
    );

    const dir2 = freshDir();
    storeTuning(tuning({ provider: 'cuda' }), dir2);
    const r2 = recorder();
    assert.deepEqual(tunedInference(entry, 'cpu', undefined, { stateDir: dir2, log: r2.log }).inference, {});
    assert.match(
      r2.lines[0]!.message,
      /provider changed \(tuned for cuda, now cpu\).*re-run "sightline tune/,
    );
    // The provider is the first of inference.providers when none is given.
    assert.equal(
      tunedInference(entry, undefined, { providers: ['cuda', 'cpu'] }, { stateDir: dir2 }).inference.sessions,
      2,
    );
  });

  test('another host or CPU count has no tuning here; nothing stored logs nothing', () => {
    const dir = freshDir();
    storeTuning(tuning({ host: 'elsewhere' }), dir);
    storeTuning(tuning({ cpus: 999 }), dir);
    const { log, lines } = recorder();
    assert.deepEqual(tunedInference(entry, 'cpu', {}, { stateDir: dir, log }), { inference: {} });
    assert.deepEqual(lines, []);
  });

  test('batchSize comes from the tuning for dynamic-batch models only', () => {
    const dir = freshDir();
    storeTuning(
      tuning({ model: 'osnet', layout: { sessions: 1, intraOpThreads: 2, spinning: false, batchSize: 8 } }),
      dir,
    );
    assert.equal(tunedInference(dynamicEntry, 'cpu', {}, { stateDir: dir }).inference.batchSize, 8);
  });

  test('a batch-agnostic model tuned to a batch starts with its rewritten dynamic-batch graph', () => {
    const dir = freshDir();
    const full = { ...manifestEntry, sha256: entry.sha256, batchAgnostic: true };
    storeTuning(tuning({ layout: { sessions: 1, intraOpThreads: 2, spinning: false, batchSize: 4 } }), dir);
    const batched = withStoredTuning(full, InferenceConfig.parse({}), { inferenceInput: {}, stateDir: dir });
    assert.equal(batched.inference.batchSize, 4);
    assert.deepEqual(batched.entry.input.shape, [-1, 3, 416, 416]);
    assert.equal(batched.entry.maxBatch, 64);
    // Tuned to single images (or not tuned, on the CPU): the file as it is.
    storeTuning(tuning({ layout: { sessions: 2, intraOpThreads: 1, spinning: false } }), dir);
    const single = withStoredTuning(full, InferenceConfig.parse({}), { inferenceInput: {}, stateDir: dir });
    assert.deepEqual(single.entry.input.shape, [1, 3, 416, 416]);
    const untuned = withStoredTuning(full, InferenceConfig.parse({}), {});
    assert.equal(untuned.entry, full);
  });
});
