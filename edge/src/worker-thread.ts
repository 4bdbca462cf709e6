/** Starts Sightline's worker threads: compiled .js beside the caller, or the .ts source through tsx, with small heaps. */
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** Young-generation size per worker in MB: $SIGHTLINE_WORKER_YOUNG_MB, default 4 (V8's default is far larger). */
function workerResourceLimits(): NonNullable<WorkerOptions['resourceLimits']> {
  const young = Number(process.env.SIGHTLINE_WORKER_YOUNG_MB ?? 4);
  return Number.isFinite(young) && young > 0 ? { maxYoungGenerationSizeMb: young } : {};
}

/**
 * Start the worker module `name` (without extension) that sits beside `callerUrl` (the caller's import.meta.url).
 * A compiled build loads `name.js` directly. From TypeScript sources, Node 20 does not give worker threads the
 * parent's `--import tsx` hooks, so the worker starts from a tiny bootstrap that registers tsx and then imports
 * `name.ts`. Workers hold only small, short-lived objects, so a small young generation keeps RSS down.
 */
export function startWorker(name: string, callerUrl: string, options: WorkerOptions = {}): Worker {
  const fromSource = callerUrl.endsWith('.ts');
  return startWorkerAt(new URL(`./${name}.${fromSource ? 'ts' : 'js'}`, callerUrl), options);
}

/** Start the worker module at `entry` (a .js module, or a .ts one through tsx), as startWorker does. */
export function startWorkerAt(entry: URL, options: WorkerOptions = {}): Worker {
  const fromSource = entry.pathname.endsWith('.ts');
  const opts: WorkerOptions = {
    ...options,
    resourceLimits: { ...workerResourceLimits(), ...options.resourceLimits },
  };
  if (!fromSource) return new Worker(entry, opts);
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(entry.href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), opts);
}
