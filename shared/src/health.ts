/**
 * The one health document of hub and edge, at GET /health (liveness: 200 while the process serves) and GET
 * /ready (readiness: 200 when ready, 503 with the same document and a Retry-After header when not).
 */

/** ok: fine. degraded: serving, something needs a look (still ready). unavailable: not ready. */
export type HealthStatus = 'ok' | 'degraded' | 'unavailable';

/** One dependency or part checked by /ready. */
export interface HealthCheck {
  status: HealthStatus;
  /** Why, in words (a state, an error message, a count). */
  detail?: string;
}

/** The body of /health and /ready on hub and edge. */
export interface HealthReport {
  /** The worst of the checks' statuses ('ok' with none). */
  status: HealthStatus;
  /** Version of the hub or edge answering. */
  version: string;
  /** Seconds since the process started. */
  uptimeSeconds: number;
  /** By name; empty on /health (liveness checks nothing beyond the process answering). */
  checks: Record<string, HealthCheck>;
}

/** Seconds a client should wait before asking /ready again after a 503 (the Retry-After header). */
export const READY_RETRY_AFTER_SECONDS = 5;

const RANK: Record<HealthStatus, number> = { ok: 0, degraded: 1, unavailable: 2 };

/** The worst of `statuses`; 'ok' when there are none. */
export function worstHealthStatus(statuses: Iterable<HealthStatus>): HealthStatus {
  let worst: HealthStatus = 'ok';
  for (const s of statuses) if (RANK[s] > RANK[worst]) worst = s;
  return worst;
}

/** A report of `checks` (status = the worst of them), with the process uptime. */
export function healthReport(version: string, checks: Record<string, HealthCheck> = {}): HealthReport {
  return {
    status: worstHealthStatus(Object.values(checks).map((c) => c.status)),
    version,
    uptimeSeconds: Math.round(process.uptime() * 1000) / 1000,
    checks,
  };
}

/** Ready unless some check is unavailable (degraded is still ready). */
export function isReady(report: HealthReport): boolean {
  return report.status !== 'unavailable';
}
