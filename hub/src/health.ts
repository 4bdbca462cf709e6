/**
 * The hub's readiness (GET /ready): the database answers a cheap query in time (else 503); an embedding index still
 * loading or failed makes it degraded (200) (each opens on first use, loading its file or rebuilding it from the database; searches and the
 * ingest of that model's embeddings wait for it meanwhile). Liveness (GET /health) checks nothing.
 */
import { type HealthCheck, type HealthReport, healthReport } from '@sightline/shared';
import { sql } from 'drizzle-orm';
import type { Store } from './store/db.ts';
import { VERSION } from './version.ts';

/** Default wait for the database's answer to the readiness query (ms). */
export const READY_DB_TIMEOUT_MS = 2000;

/** What readiness reads of the embedding indexes (an IndexRegistry fits). */
export interface IndexesSource {
  /** Models with an open (or opening) index. */
  models(): string[];
  /** The index of a model, if open or opening. */
  peek(modelId: string): Promise<{ size: number }> | undefined;
}

export interface HubReadinessOptions {
  store: Pick<Store, 'db' | 'kind'>;
  /** The embedding indexes; without them there is no `indexes` check. */
  indexes?: IndexesSource;
  /** Longest wait for the database (ms). Default READY_DB_TIMEOUT_MS. */
  timeoutMs?: number;
}

type Settled = { state: 'loaded'; size: number } | { state: 'failed'; error: string };

/** A function computing the hub's readiness report at each call. */
export function createHubReadiness(options: HubReadinessOptions): () => Promise<HealthReport> {
  const timeoutMs = options.timeoutMs ?? READY_DB_TIMEOUT_MS;
  const settled = new WeakMap<Promise<unknown>, Settled>();
  const watched = new WeakSet<Promise<unknown>>();

  const database = async (): Promise<HealthCheck> => {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        options.store.db.execute(sql`select 1`),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      return {
        status: 'ok',
        detail: `${options.store.kind} answered in ${Math.round(performance.now() - started)} ms`,
      };
    } catch (err) {
      return { status: 'unavailable', detail: `${options.store.kind}: ${errorText(err)}` };
    } finally {
      clearTimeout(timer);
    }
  };

  const indexes = async (source: IndexesSource): Promise<HealthCheck> => {
    const open = source.models().flatMap((model) => {
      const p = source.peek(model);
      return p ? [{ model, p }] : [];
    });
    for (const { p } of open) {
      if (watched.has(p)) continue;
      watched.add(p);
      p.then(
        (index) => settled.set(p, { state: 'loaded', size: index.size }),
        (err: unknown) => settled.set(p, { state: 'failed', error: errorText(err) }),
      );
    }
    // A promise settled by now runs its callbacks within this turn: let them run before reading.
    if (open.some(({ p }) => !settled.has(p))) await new Promise((resolve) => setImmediate(resolve));
    if (open.length === 0) return { status: 'ok', detail: 'none open yet (each opens on first use)' };
    const loading: string[] = [];
    const failed: string[] = [];
    const loaded: string[] = [];
    for (const { model, p } of open) {
      const s = settled.get(p);
      if (!s) loading.push(model);
      else if (s.state === 'failed') failed.push(`${model} (${s.error})`);
      else loaded.push(`${model} (${s.size} vectors)`);
    }
    const parts = [
      loaded.length ? `loaded: ${loaded.join(', ')}` : '',
      loading.length ? `loading: ${loading.join(', ')}` : '',
      failed.length ? `failed: ${failed.join(', ')}` : '',
    ].filter(Boolean);
    return {
      // An index opens on first use, also long after start: while it loads only that model's searches and ingest
      // wait, so the hub stays ready (degraded) rather than dropping out of a load balancer.
      status: loading.length || failed.length ? 'degraded' : 'ok',
      detail: parts.join('; '),
    };
  };

  return async () => {
    const [db, idx] = await Promise.all([
      database(),
      options.indexes ? indexes(options.indexes) : Promise.resolve(undefined),
    ]);
    return healthReport(VERSION, { database: db, ...(idx ? { indexes: idx } : {}) });
  };
}

/** An error's message, with its cause's (drizzle wraps the driver's error as "Failed query: ..."). */
function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? err.cause.message : '';
  const first = err.message.split('\n')[0] ?? '';
  return cause && !first.includes(cause) ? `${first}: ${cause}` : first || err.name;
}
