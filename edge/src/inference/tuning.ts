/**
 * Inference layout tuning (the original design's PerformanceOptimizer): measure throughput and p95 latency of the
 * real pool over candidate layouts (batch sizes for dynamic-batch models; sessions x intra-op threads x spinning
 * for static ones), pick the fastest within a latency budget, and store it per host, model file, provider and CPU
 * count in <state dir>/tuning.json. The edge and the worker take a stored layout on start when their config sets
 * none of the layout fields (tunedInference). A tuning whose model file or provider differs is ignored: re-tuning
 * is running `sightline tune` again.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { availableParallelism, homedir, hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { type ExecutionProvider, InferenceConfig, type ModelEntry } from '@sightline/shared';
import type { z } from 'zod';
import type { DecodedFrame, ImageBuffer } from '../frame.ts';
import type { InferenceBackend, InferenceBackendFactory } from './backend.ts';
import { batchedEntry, MAX_DYNAMIC_BATCH } from './dynamic-batch.ts';
import { isDynamicBatch } from './providers.ts';

/** Inference settings as a config writes them (before defaults). */
export type InferenceInput = z.input<typeof InferenceConfig>;

/** The inference fields a tuning sets. */
export interface TunedLayout {
  sessions: number;
  intraOpThreads: number;
  spinning: boolean;
  /** Dynamic-batch models only. */
  batchSize?: number;
}

/** The layout fields: a config setting any of them is explicit, and no stored tuning is used. */
export const LAYOUT_FIELDS = ['sessions', 'intraOpThreads', 'spinning', 'batchSize'] as const;

/** One measured candidate. */
export interface TuningRow {
  layout: TunedLayout;
  /** Frames per second over the measurement. */
  fps: number;
  /** Latency of one call (batch) as the pipeline sees it, queueing in the pool included. */
  p50Ms: number;
  p95Ms: number;
  calls: number;
  /** Set when the candidate could not run (then fps is 0). */
  error?: string;
}

/** A stored tuning. */
export interface Tuning {
  host: string;
  model: string;
  sha256: string;
  provider: ExecutionProvider;
  cpus: number;
  /** ISO date of the measurement. */
  measuredAt: string;
  budgetMs: number;
  secondsPerCandidate: number;
  layout: TunedLayout;
  /** False when no candidate met the budget: the layout is then the one with the lowest p95. */
  withinBudget: boolean;
  table: TuningRow[];
}

/** <state dir>/tuning.json. */
export interface TuningFile {
  version: 1;
  tunings: Record<string, Tuning>;
}

/** $SIGHTLINE_STATE_DIR, else ~/.cache/sightline. */
export function defaultStateDir(): string {
  return process.env.SIGHTLINE_STATE_DIR || join(homedir(), '.cache', 'sightline');
}

export function tuningPath(stateDir = defaultStateDir()): string {
  return join(stateDir, 'tuning.json');
}

/** What identifies the machine: host name and CPU count. */
export function hostIdentity(): { host: string; cpus: number } {
  return { host: hostname(), cpus: availableParallelism() };
}

/** The key of a tuning: host, model id, the model file's sha256, provider and CPU count. */
export function tuningKey(t: Pick<Tuning, 'host' | 'model' | 'sha256' | 'provider' | 'cpus'>): string {
  return `${t.host}/${t.model}/${t.sha256}/${t.provider}/${t.cpus}cpu`;
}

/** The layouts to measure, in order. `cpus` bounds sessions x threads; dynamic models scale the batch instead. */
export function tuningCandidates(
  entry: Pick<ModelEntry, 'input' | 'maxBatch' | 'batchAgnostic'>,
  cpus: number,
  provider: ExecutionProvider = 'cpu',
): TunedLayout[] {
  const cores = Math.max(1, Math.min(64, cpus));
  // One session using every core (on a GPU the threads only feed it), the batch grown by powers of two.
  const batches = (from: number, max: number): TunedLayout[] => {
    const out: TunedLayout[] = [];
    for (let b = from; b <= max; b *= 2)
      out.push({ sessions: 1, intraOpThreads: cores, spinning: false, batchSize: b });
    if (out.length && out[out.length - 1]!.batchSize !== max)
      out.push({ sessions: 1, intraOpThreads: cores, spinning: false, batchSize: max });
    return out;
  };
  if (isDynamicBatch(entry)) return batches(1, Math.max(1, Math.min(64, entry.maxBatch)));
  // A batch-agnostic model: the single-image layouts of its file, then its rewritten graph at batch 2, 4, ... 64.
  const out: TunedLayout[] = [...sessionLayouts(cores, provider)];
  if (entry.batchAgnostic) out.push(...batches(2, MAX_DYNAMIC_BATCH));
  return out;
}

/** Sessions x intra-op threads (spinning on and off) within `cores`; GPU providers get at most 4 sessions. */
function sessionLayouts(cores: number, provider: ExecutionProvider): TunedLayout[] {
  const out: TunedLayout[] = [];
  const maxSessions = provider === 'cpu' ? cores : Math.min(cores, 4);
  for (let s = 1; s <= maxSessions; s++) {
    for (let t = 1; s * t <= cores; t++) {
      out.push({ sessions: s, intraOpThreads: t, spinning: false });
      // Spinning only matters with an intra-op thread pool (more than one thread).
      if (t > 1) out.push({ sessions: s, intraOpThreads: t, spinning: true });
    }
  }
  return out;
}

/**
 * The best row: the highest throughput whose p95 is within `budgetMs` (ties: fewer threads in all). When none is
 * within the budget, the row with the lowest p95, with withinBudget false. Undefined when no row ran.
 */
export function chooseLayout(
  table: readonly TuningRow[],
  budgetMs: number,
): { row: TuningRow; withinBudget: boolean } | undefined {
  const ran = table.filter((r) => !r.error && r.calls > 0 && r.fps > 0);
  if (!ran.length) return undefined;
  const cost = (r: TuningRow) => r.layout.sessions * r.layout.intraOpThreads;
  const within = ran.filter((r) => r.p95Ms <= budgetMs);
  if (within.length) {
    const best = within.reduce((a, b) => (b.fps > a.fps || (b.fps === a.fps && cost(b) < cost(a)) ? b : a));
    return { row: best, withinBudget: true };
  }
  return { row: ran.reduce((a, b) => (b.p95Ms < a.p95Ms ? b : a)), withinBudget: false };
}

/** The stored tunings; an absent or unreadable file holds none. */
export function readTunings(stateDir = defaultStateDir()): TuningFile {
  try {
    const parsed = JSON.parse(readFileSync(tuningPath(stateDir), 'utf8')) as TuningFile;
    if (parsed?.version === 1 && parsed.tunings && typeof parsed.tunings === 'object') return parsed;
  } catch {
    // none stored, or not ours
  }
  return { version: 1, tunings: {} };
}

/**
 * Store a tuning (atomically: a temp file renamed over tuning.json). Tunings of the same host, model, provider and
 * CPU count for another model file are dropped: the file they were measured on is gone. Returns the file's path.
 */
export function storeTuning(tuning: Tuning, stateDir = defaultStateDir()): string {
  const file = readTunings(stateDir);
  for (const [key, t] of Object.entries(file.tunings)) {
    if (
      t.host === tuning.host &&
      t.model === tuning.model &&
      t.provider === tuning.provider &&
      t.cpus === tuning.cpus
    )
      delete file.tunings[key];
  }
  file.tunings[tuningKey(tuning)] = tuning;
  const path = tuningPath(stateDir);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(file, null, 2)}\n`);
  renameSync(tmp, path);
  return path;
}

/** Where tunedInference says what it did (a pino logger fits). */
export interface TuningLog {
  info(data: Record<string, unknown>, message: string): void;
  warn(data: Record<string, unknown>, message: string): void;
}

/**
 * The stored tuning for this host, model file and provider, or why there is none usable: `stale` says that one
 * was measured for another model file or provider (re-run `sightline tune`).
 */
export function findTuning(
  entry: Pick<ModelEntry, 'id' | 'sha256'>,
  provider: ExecutionProvider,
  options: { stateDir?: string; host?: string; cpus?: number } = {},
): { tuning?: Tuning; stale?: { tuning: Tuning; reason: string } } {
  const id = hostIdentity();
  const host = options.host ?? id.host;
  const cpus = options.cpus ?? id.cpus;
  const file = readTunings(options.stateDir);
  const exact = file.tunings[tuningKey({ host, model: entry.id, sha256: entry.sha256, provider, cpus })];
  if (exact) return { tuning: exact };
  const mine = Object.values(file.tunings).filter(
    (t) => t.host === host && t.model === entry.id && t.cpus === cpus,
  );
  const otherFile =
    mine.find((t) => t.sha256 !== entry.sha256 && t.provider === provider) ??
    mine.find((t) => t.sha256 !== entry.sha256);
  if (otherFile) {
    return {
      stale: {
        tuning: otherFile,
        reason: `the model file changed (tuned sha256 ${otherFile.sha256.slice(0, 12)}, now ${entry.sha256.slice(0, 12)})`,
      },
    };
  }
  const otherProvider = mine.find((t) => t.provider !== provider);
  if (otherProvider) {
    return {
      stale: {
        tuning: otherProvider,
        reason: `the provider changed (tuned for ${otherProvider.provider}, now ${provider})`,
      },
    };
  }
  return {};
}

/** One line naming a layout, e.g. "2 sessions x 1 thread, spinning off" or "... batch 8". */
export function describeLayout(l: TunedLayout): string {
  return (
    `${l.sessions} session${l.sessions === 1 ? '' : 's'} x ${l.intraOpThreads} thread${l.intraOpThreads === 1 ? '' : 's'}, ` +
    `spinning ${l.spinning ? 'on' : 'off'}${l.batchSize !== undefined ? `, batch ${l.batchSize}` : ''}`
  );
}

/**
 * The inference settings and model entry to start a backend with: `inference` (parsed) with a stored tuning applied
 * when `inferenceInput` (as written) is given (see tunedInference), and the entry made dynamic-batch when the model
 * is batch-agnostic and the written or tuned batchSize, or a GPU provider, asks for batches (see batchedEntry).
 */
export function withStoredTuning(
  entry: ModelEntry,
  inference: InferenceConfig,
  { inferenceInput, stateDir }: { inferenceInput?: InferenceInput; stateDir?: string },
  log?: TuningLog,
): { inference: InferenceConfig; entry: ModelEntry } {
  if (!inferenceInput) return { inference, entry: batchedEntry(entry, { providers: inference.providers }) };
  const options = { ...(stateDir ? { stateDir } : {}), ...(log ? { log } : {}) };
  const tuned = tunedInference(entry, inference.providers[0], inferenceInput, options).inference;
  return { inference: InferenceConfig.parse(tuned), entry: batchedEntry(entry, tuned) };
}

/**
 * The inference settings to start a model's backend with: `inference` (as the config wrote it, before defaults)
 * with the stored tuning's layout filled in, when the config sets none of the layout fields (sessions,
 * intraOpThreads, spinning, batchSize) and a tuning for this host, model file and provider (the first of
 * `inference.providers`, default cpu) is stored. Explicit config always wins. Logs what it used, or why a stored
 * tuning was ignored (model file or provider changed: re-run `sightline tune`).
 */
export function tunedInference(
  entry: Pick<ModelEntry, 'id' | 'sha256' | 'input' | 'maxBatch' | 'batchAgnostic'>,
  provider: ExecutionProvider | undefined,
  inference: InferenceInput | undefined,
  options: { stateDir?: string; log?: TuningLog } = {},
): { inference: InferenceInput; tuning?: Tuning } {
  const input: InferenceInput = { ...(inference ?? {}) };
  const used = provider ?? input.providers?.[0] ?? 'cpu';
  const explicit = LAYOUT_FIELDS.filter((f) => input[f] !== undefined);
  const found = findTuning(entry, used, options);
  const log = options.log;
  if (found.stale) {
    log?.warn(
      { model: entry.id, provider: used, measuredAt: found.stale.tuning.measuredAt },
      `stored tuning ignored: ${found.stale.reason}; re-run "sightline tune --model ${entry.id} --provider ${used}"`,
    );
    return { inference: input };
  }
  if (!found.tuning) return { inference: input };
  if (explicit.length) {
    log?.info(
      { model: entry.id, provider: used, explicit },
      `stored tuning not used: the config sets inference.${explicit.join(', inference.')}`,
    );
    return { inference: input };
  }
  const { layout, measuredAt } = found.tuning;
  const merged: InferenceInput = {
    ...input,
    sessions: layout.sessions,
    intraOpThreads: layout.intraOpThreads,
    spinning: layout.spinning,
    ...(layout.batchSize !== undefined && (isDynamicBatch(entry) || entry.batchAgnostic)
      ? { batchSize: layout.batchSize }
      : {}),
  };
  log?.info(
    { model: entry.id, provider: used, layout, measuredAt },
    `using tuned layout ${describeLayout(layout)} measured ${measuredAt}`,
  );
  return { inference: merged, tuning: found.tuning };
}

/** p-th percentile (0..100) of `values` (nearest rank); 0 when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** What measureLayout runs the model on. */
export interface MeasureOptions {
  /** Starts the backend with the layout (InferencePool.create with the model's options). */
  create: (inference: InferenceInput) => Promise<InferenceBackend>;
  /** The model (re-ID models are measured with embed(), others with infer()). */
  entry: Pick<ModelEntry, 'task' | 'input' | 'maxBatch'>;
  provider: ExecutionProvider;
  /** The image each frame (or crop) copies. */
  image: ImageBuffer;
  seconds: number;
  /** Requests in flight per session (the pool's inflightPerSession). Default 2. */
  inflightPerSession?: number;
  /** Called about every 100 ms with the fraction of the measurement done. */
  onTick?: (fraction: number) => void;
}

function frameOf(image: ImageBuffer, seq: number): DecodedFrame {
  return {
    data: image.data.slice(),
    width: image.width,
    height: image.height,
    sourceWidth: image.width,
    sourceHeight: image.height,
    streamId: 'tune',
    seq,
    pts: seq * 3000,
    capturedAt: 0,
    decodeMs: 0,
  };
}

/**
 * Measure one layout: start the backend, run one warm-up call, then keep every slot busy for `seconds`. Throughput
 * is frames done over the time taken; latency is per call. A layout that cannot start gives a row with `error`.
 */
export async function measureLayout(layout: TunedLayout, o: MeasureOptions): Promise<TuningRow> {
  const inflight = o.inflightPerSession ?? 2;
  let backend: InferenceBackend | undefined;
  try {
    backend = await o.create({
      providers: [o.provider],
      sessions: layout.sessions,
      intraOpThreads: layout.intraOpThreads,
      spinning: layout.spinning,
      inflightPerSession: inflight,
      // A first TensorRT run builds the engine; the warm-up takes it.
      ...(layout.batchSize !== undefined ? { batchSize: layout.batchSize } : {}),
    });
    const b = backend;
    const batch = Math.min(layout.batchSize ?? 1, b.maxBatch);
    let seq = 0;
    const call = async () => {
      if (o.entry.task === 'reid') {
        await b.embed(Array.from({ length: batch }, () => ({ ...o.image, data: o.image.data.slice() })));
      } else {
        await b.infer(Array.from({ length: batch }, () => frameOf(o.image, seq++)));
      }
    };
    // Warm-up: every session once.
    await Promise.all(Array.from({ length: layout.sessions }, call));
    const latencies: number[] = [];
    let frames = 0;
    const start = performance.now();
    const end = start + o.seconds * 1000;
    const ticker = o.onTick
      ? setInterval(() => o.onTick!(Math.min(1, (performance.now() - start) / (o.seconds * 1000))), 100)
      : undefined;
    try {
      await Promise.all(
        Array.from({ length: layout.sessions * inflight }, async () => {
          while (performance.now() < end) {
            const t0 = performance.now();
            await call();
            latencies.push(performance.now() - t0);
            frames += batch;
          }
        }),
      );
    } finally {
      clearInterval(ticker);
    }
    const elapsed = (performance.now() - start) / 1000;
    return {
      layout,
      fps: elapsed > 0 ? frames / elapsed : 0,
      p50Ms: percentile(latencies, 50),
      p95Ms: percentile(latencies, 95),
      calls: latencies.length,
    };
  } catch (err) {
    return { layout, fps: 0, p50Ms: 0, p95Ms: 0, calls: 0, error: (err as Error).message };
  } finally {
    await backend?.close();
  }
}

/** What runTuning measures and how. */
export interface TuningRunOptions {
  entry: ModelEntry;
  modelPath: string;
  labels: readonly string[];
  provider: ExecutionProvider;
  image: ImageBuffer;
  seconds: number;
  budgetMs: number;
  /** Starts a backend. Default InferencePool.create. */
  factory: InferenceBackendFactory;
  /** Measure at most this many candidates (the first ones). */
  maxCandidates?: number;
  /** Before each candidate (index from 0) and while it runs (fraction done). */
  onProgress?: (index: number, total: number, layout: TunedLayout, fraction: number) => void;
  /** Host name and CPU count. Default hostIdentity(). */
  host?: string;
  cpus?: number;
}

/** Measure every candidate and choose; the Tuning to store (undefined when no candidate could run) and the table. */
export async function runTuning(o: TuningRunOptions): Promise<{ tuning?: Tuning; table: TuningRow[] }> {
  const id = hostIdentity();
  const host = o.host ?? id.host;
  const cpus = o.cpus ?? id.cpus;
  let candidates = tuningCandidates(o.entry, cpus, o.provider);
  if (o.maxCandidates !== undefined) candidates = candidates.slice(0, Math.max(1, o.maxCandidates));
  const table: TuningRow[] = [];
  for (const [i, layout] of candidates.entries()) {
    o.onProgress?.(i, candidates.length, layout, 0);
    table.push(
      await measureLayout(layout, {
        create: (inference) =>
          o.factory({
            model: batchedEntry(o.entry, inference),
            modelPath: o.modelPath,
            labels: o.labels,
            inference,
            logger: { info: () => {}, warn: () => {}, error: () => {} },
          }),
        entry: o.entry,
        provider: o.provider,
        image: o.image,
        seconds: o.seconds,
        onTick: (f) => o.onProgress?.(i, candidates.length, layout, f),
      }),
    );
    o.onProgress?.(i, candidates.length, layout, 1);
  }
  const chosen = chooseLayout(table, o.budgetMs);
  if (!chosen) return { table };
  return {
    table,
    tuning: {
      host,
      model: o.entry.id,
      sha256: o.entry.sha256,
      provider: o.provider,
      cpus,
      measuredAt: new Date().toISOString(),
      budgetMs: o.budgetMs,
      secondsPerCandidate: o.seconds,
      layout: chosen.row.layout,
      withinBudget: chosen.withinBudget,
      table,
    },
  };
}

/** The measured table as text, the chosen row marked with "*". */
export function formatTuningTable(table: readonly TuningRow[], chosen?: TunedLayout): string {
  const dynamic = table.some((r) => r.layout.batchSize !== undefined);
  const head = [
    '',
    'sessions',
    'threads',
    'spinning',
    ...(dynamic ? ['batch'] : []),
    'frames/s',
    'p50 ms',
    'p95 ms',
    'calls',
  ];
  const rows = table.map((r) => [
    chosen && JSON.stringify(r.layout) === JSON.stringify(chosen) ? '*' : '',
    String(r.layout.sessions),
    String(r.layout.intraOpThreads),
    r.layout.spinning ? 'on' : 'off',
    ...(dynamic ? [String(r.layout.batchSize ?? 1)] : []),
    r.error ? 'failed' : r.fps.toFixed(1),
    r.error ? '-' : r.p50Ms.toFixed(1),
    r.error ? '-' : r.p95Ms.toFixed(1),
    r.error ? r.error.slice(0, 60) : String(r.calls),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(head), ...rows.map(line)].join('\n')}\n`;
}
