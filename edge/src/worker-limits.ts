/** Heap limits for Sightline's worker threads: they hold only small, short-lived objects, so a small young generation keeps RSS down. */
import type { ResourceLimits } from 'node:worker_threads';

/** Young-generation size per worker in MB: $SIGHTLINE_WORKER_YOUNG_MB, default 4 (V8's default is far larger). */
export function workerResourceLimits(): ResourceLimits {
  const young = Number(process.env.SIGHTLINE_WORKER_YOUNG_MB ?? 4);
  return Number.isFinite(young) && young > 0 ? { maxYoungGenerationSizeMb: young } : {};
}
