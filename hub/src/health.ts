/**
 * The hub's readiness (GET /ready): the database answers a cheap query in time (else 503); an embedding index still
 * loading makes it degraded, still 200 (each opens on first use, loading its file or rebuilding it from the
 * database; that model's searches and ingest wait for it meanwhile). Liveness (GET /health) checks nothing.
 */
import { type HealthCheck, type HealthReport, healthReport } from '@sightline/shared';
import { sql } from 'drizzle-orm';
import type { Store } from './store/db.ts';
import { storeErrorReason } from './store/store-errors.ts';
import { VERSION } from './version.ts';

/** Default wait for the database's answer to the readiness query (ms). */
export const READY_DB_TIMEOUT_MS = 2000;

/** What readiness reads of the embedding indexes (an IndexRegistry fits). */
export interface IndexesSource {
  /** Each open index: its model, and its size once loaded (absent while it still loads). */
  states(): { model: string; size?: number }[];
}

export interface HubReadinessOptions {
  store: Pick<Store, 'db' | 'kind'>;
  /** The embedding indexes; without them there is no `indexes` check. */
  indexes?: IndexesSource;
  /** Longest wait for the database (ms). Default READY_DB_TIMEOUT_MS. */
  timeoutMs?: number;
}

/** A function computing the hub's readiness report at each call. */
export function createHubReadiness(options: HubReadinessOptions): () => Promise<HealthReport> {
  const timeoutMs = options.timeoutMs ?? READY_DB_TIMEOUT_MS;

  const database = async (): Promise<HealthCheck> => {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const answered = await Promise.race([
        options.store.db.execute(sql`select 1`).then(() => true),
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), timeoutMs);
        }),
      ]);
      if (!answered) {
        return { status: 'unavailable', detail: `${options.store.kind}: no answer within ${timeoutMs} ms` };
      }
      return {
        status: 'ok',
        detail: `${options.store.kind} answered in ${Math.round(performance.now() - started)} ms`,
      };
    } catch (err) {
      return { status: 'unavailable', detail: `${options.store.kind}: ${storeErrorReason(err)}` };
    } finally {
      clearTimeout(timer);
    }
  };

  const indexes = (source: IndexesSource): HealthCheck => {
    const open = source.states();
    if (open.length === 0) return { status: 'ok', detail: 'none open yet (each opens on first use)' };
    const loaded = open.filter((x) => x.size !== undefined).map((x) => `${x.model} (${x.size} vectors)`);
    const loading = open.filter((x) => x.size === undefined).map((x) => x.model);
    const detail = [
      loaded.length ? `loaded: ${loaded.join(', ')}` : '',
      loading.length ? `loading: ${loading.join(', ')}` : '',
    ].filter(Boolean);
    // An index opens on first use, also long after start: while it loads only that model's searches and ingest
    // wait, so the hub stays ready (degraded) rather than dropping out of a load balancer. One that failed to
    // open is forgotten and opened again on its next use.
    return { status: loading.length ? 'degraded' : 'ok', detail: detail.join('; ') };
  };

  return async () => {
    const db = await database();
    const idx = options.indexes ? indexes(options.indexes) : undefined;
    return healthReport(VERSION, { database: db, ...(idx ? { indexes: idx } : {}) });
  };
}
