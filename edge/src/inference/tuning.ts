/**
 * Inference layout tuning (the original design's PerformanceOptimizer): measure throughput and p95 latency of the
 * real pool over candidate layouts (batch sizes for dynamic-batch models; sessions x intra-op threads x spinning
 * for static ones), pick the fastest within a latency budget, and store it per host, model file, provider and CPU
 * count in <state dir>/tuning.json (the measuring itself is in tuning-run.ts). The edge and the worker take a stored layout on start when their config sets
 * none of the layout fields (tunedInference). A tuning whose model file or provider differs is ignored: re-tuning
 * is running `sightline tune` again.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { availableParallelism, homedir, hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { type ExecutionProvider, InferenceConfig, type ModelEntry } from '@sightline/shared';
import type { z } from 'zod';
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
