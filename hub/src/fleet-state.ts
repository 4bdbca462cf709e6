/** In-memory view of the fleet: each edge's last status report and when it arrived, bounded in count and age. */
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
  /** Frames whose inference failed. Default 0 (edges before this field did not send it). */
  inferErrors: z.number().int().nonnegative().default(0),
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

export interface FleetStateOptions {
  /** Clock in ms since the epoch. Default Date.now. */
  now?: () => number;
  /** An edge not heard from for this long is forgotten. Default 600000 (10 minutes). */
  evictAfterMs?: number;
  /** Most edges kept; a report from a new edge beyond it is refused. Default 1000. */
  maxEdges?: number;
}

export class FleetState {
  /** Most edges kept. */
  readonly maxEdges: number;
  /** How long an edge is kept after its last report, in ms. */
  readonly evictAfterMs: number;
  /** Ordered by last report, oldest first (a report moves its edge to the end), so eviction stops at the first fresh one. */
  readonly #edges = new Map<string, { report: EdgeStatusReport; at: number }>();
  readonly #now: () => number;

  constructor(options: FleetStateOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.evictAfterMs = positiveInt('evictAfterMs', options.evictAfterMs ?? 600_000);
    this.maxEdges = positiveInt('maxEdges', options.maxEdges ?? 1000);
  }

  /** Store an edge's report. Returns false, storing nothing, when it is a new edge and maxEdges are kept already. */
  report(edgeId: string, report: EdgeStatusReport): boolean {
    const now = this.#now();
    this.#evict(now);
    const known = this.#edges.delete(edgeId);
    if (!known && this.#edges.size >= this.maxEdges) return false;
    this.#edges.set(edgeId, { report, at: now });
    return true;
  }

  edges(): EdgeView[] {
    const now = this.#now();
    this.#evict(now);
    return [...this.#edges.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([edgeId, { report, at }]) => ({
        edgeId,
        ...report,
        status: now - at > OFFLINE_AFTER_MS ? 'offline' : now - at > STALE_AFTER_MS ? 'stale' : 'online',
        lastSeen: new Date(at).toISOString(),
      }));
  }

  #evict(now: number): void {
    for (const [edgeId, { at }] of this.#edges) {
      if (now - at <= this.evictAfterMs) break;
      this.#edges.delete(edgeId);
    }
  }
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Expected a positive integer for ${name} but received ${value} of type ${typeof value}`,
    );
  }
  return value;
}
