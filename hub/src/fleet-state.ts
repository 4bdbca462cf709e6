/** In-memory view of the fleet: each edge's last status report and when it arrived. */
import { z } from 'zod';

/** Seconds without a report before an edge is shown as stale, then offline. */
export const STALE_AFTER_MS = 5_000;
export const OFFLINE_AFTER_MS = 30_000;

export const StreamStatusReport = z.strictObject({
  streamId: z.string().min(1).max(64),
  source: z.string().max(2048),
  state: z.enum(['starting', 'running', 'reconnecting', 'ended', 'failed']),
  framesDecoded: z.number().int().nonnegative(),
  framesInferred: z.number().int().nonnegative(),
  droppedOverflow: z.number().int().nonnegative(),
  droppedStale: z.number().int().nonnegative(),
  fps: z.number().nonnegative(),
  latencyP50Ms: z.number().nonnegative(),
  latencyP95Ms: z.number().nonnegative(),
  activeTracks: z.number().int().nonnegative(),
  reconnects: z.number().int().nonnegative(),
  lastError: z.string().max(2048).optional(),
});

export const EdgeStatusReport = z.strictObject({
  version: z.string().max(64),
  model: z.string().max(128),
  provider: z.string().max(64),
  streams: z.array(StreamStatusReport).max(256),
});
export type EdgeStatusReport = z.infer<typeof EdgeStatusReport>;

export interface EdgeView extends EdgeStatusReport {
  edgeId: string;
  status: 'online' | 'stale' | 'offline';
  lastSeen: string;
}

export class FleetState {
  #edges = new Map<string, { report: EdgeStatusReport; at: number }>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  report(edgeId: string, report: EdgeStatusReport): void {
    this.#edges.set(edgeId, { report, at: this.#now() });
  }

  edges(): EdgeView[] {
    const now = this.#now();
    return [...this.#edges.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([edgeId, { report, at }]) => ({
        edgeId,
        ...report,
        status: now - at > OFFLINE_AFTER_MS ? 'offline' : now - at > STALE_AFTER_MS ? 'stale' : 'online',
        lastSeen: new Date(at).toISOString(),
      }));
  }
}
