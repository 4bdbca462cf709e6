/** Measuring inference layouts for `sightline tune` and re-tuning: one layout at a time on the real pool, and the table. */
import type { ExecutionProvider, ModelEntry } from '@sightline/shared';
import type { DecodedFrame, ImageBuffer } from '../frame.ts';
import type { InferenceBackend, InferenceBackendFactory } from './backend.ts';
import { batchedEntry } from './dynamic-batch.ts';
import {
  chooseLayout,
  hostIdentity,
  type InferenceInput,
  type TunedLayout,
  type Tuning,
  type TuningRow,
  tuningCandidates,
} from './tuning.ts';

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
