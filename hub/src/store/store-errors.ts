/**
 * Telling store errors apart. A batch or request can fail because of what it holds (a content error: retrying
 * the same thing fails again) or because the store is away (PostgreSQL down or restarting, a connection cut, the
 * pool out of connections, PGlite closed): then the very same thing succeeds later, and nothing may be dropped.
 *
 * Drivers differ in how they say it: node-postgres gives socket errors (`code: 'ECONNREFUSED'`, ...), SQLSTATEs
 * ('57P01' admin shutdown, '08xxx' connection exceptions) or plain messages ("Connection terminated
 * unexpectedly", "timeout exceeded when trying to connect"); drizzle wraps query errors in a DrizzleQueryError
 * (its message holds the SQL and the parameters, the driver's error is its `cause`); pg's connect errors can be
 * AggregateErrors. These helpers look through causes and aggregates.
 */
import { SightlineError } from '@sightline/shared';

/** SightlineError codes for batch content the hub can never store (the edge drops such a batch). */
const CONTENT_CODES = new Set(['BATCH_INVALID', 'THUMBNAIL_INVALID', 'EMBEDDING_INVALID']);

/** Socket-level codes of a database that cannot be reached or went away. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENOTCONN',
  'ESHUTDOWN',
]);

/** Messages of drivers and pools for a lost or unobtainable connection (no code to go by). */
const UNAVAILABLE_MESSAGE =
  /connection terminated|terminating connection|connection (?:ended|closed|lost|refused|reset)|timeout exceeded when trying to connect|client has encountered a connection error|cannot use a pool after calling end|client was closed|not queryable|pglite is closed|database system is (?:starting up|shutting down|in recovery mode)|the database is closed/i;

/** The error and everything it wraps (causes, aggregated errors), outermost first; at most 16. */
function chain(err: unknown): unknown[] {
  const out: unknown[] = [];
  const queue: unknown[] = [err];
  while (queue.length > 0 && out.length < 16) {
    const e = queue.shift();
    if (e === undefined || e === null || out.includes(e)) continue;
    out.push(e);
    if (e instanceof AggregateError) queue.push(...e.errors);
    if (typeof e === 'object' && 'cause' in e) queue.push((e as { cause?: unknown }).cause);
  }
  return out;
}

function codeOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** True for an SQLSTATE (five characters, digits and capitals). */
function isSqlState(code: string): boolean {
  return /^[0-9A-Z]{5}$/.test(code);
}

/** One error (not its causes) says the store is unavailable. */
function unavailableHere(e: unknown): boolean {
  if (e instanceof SightlineError) return e.code === 'STORE_UNAVAILABLE' || e.code === 'CLOSED';
  const code = codeOf(e);
  if (code !== undefined) {
    if (NETWORK_CODES.has(code)) return true;
    if (isSqlState(code)) {
      // 08: connection exception; 57P01..57P05: admin/crash shutdown, cannot connect now, idle/session
      // timeouts; 53: insufficient resources (too many connections, disk full, out of memory); 58: system
      // error (I/O); 40001/40P01: serialization failure and deadlock, which succeed when retried.
      return (
        code.startsWith('08') ||
        /^57P0[1-5]$/.test(code) ||
        code.startsWith('53') ||
        code.startsWith('58') ||
        code === '40001' ||
        code === '40P01'
      );
    }
  }
  return e instanceof Error && UNAVAILABLE_MESSAGE.test(e.message);
}

/**
 * True when `err` says the store is away or cannot take the work now (connection refused, reset or cut, server
 * shutting down, pool timeout, too many connections, PGlite closed): the same call succeeds once it is back.
 */
export function isStoreUnavailable(err: unknown): boolean {
  return chain(err).some(unavailableHere);
}

/**
 * True when `err` is about the content of an uplink batch: a SightlineError the ingest raised for it
 * (BATCH_INVALID, THUMBNAIL_INVALID, EMBEDDING_INVALID), or PostgreSQL refusing one of its values (SQLSTATE
 * class 22, data exception: a number out of range, a NUL in a text). Storing the same batch again fails the
 * same way, so the edge may drop it. Anything else (a store outage, a disk error, a hub bug) is not.
 */
export function isBatchContentError(err: unknown): boolean {
  return classifyStoreError(err).content;
}

/**
 * A short reason for a store error that never holds SQL text or query parameters (a DrizzleQueryError's
 * message has both): the innermost driver error's code and message, for logs and for the edge.
 */
export function storeErrorReason(err: unknown): string {
  const all = chain(err);
  const inner = [...all].reverse().find((e) => !isDrizzleQueryError(e));
  if (inner === undefined) return all.length > 0 ? 'database query failed' : 'unknown error';
  if (inner instanceof SightlineError) return `${inner.code}: ${inner.message}`;
  const code = codeOf(inner);
  const message = inner instanceof Error ? inner.message || inner.name : String(inner);
  const text = code && !message.includes(code) ? `${code}: ${message}` : message;
  return text.slice(0, 500);
}

function isDrizzleQueryError(e: unknown): boolean {
  return (
    e instanceof Error &&
    (e.name === 'DrizzleQueryError' || e.constructor?.name === 'DrizzleQueryError' || 'query' in e)
  );
}

/**
 * How the uplink answers a batch the store did not take: `content` when the batch's own content is refused (the edge
 * drops it; code the ingest's own, e.g. EMBEDDING_INVALID, or BATCH_INVALID for a database refusal), else
 * STORE_UNAVAILABLE (an outage) or STORE_FAILED (anything else), both "retry later"; `reason` without SQL.
 */
export function classifyStoreError(err: unknown): { code: string; content: boolean; reason: string } {
  const all = chain(err);
  const unavailable = all.some(unavailableHere);
  const contentCode = unavailable
    ? undefined
    : all.reduce<string | undefined>((found, e) => {
        if (found) return found;
        if (e instanceof SightlineError) return CONTENT_CODES.has(e.code) ? e.code : undefined;
        const code = codeOf(e);
        return code !== undefined && isSqlState(code) && code.startsWith('22') ? 'BATCH_INVALID' : undefined;
      }, undefined);
  return {
    code: contentCode ?? (unavailable ? 'STORE_UNAVAILABLE' : 'STORE_FAILED'),
    content: contentCode !== undefined,
    reason: storeErrorReason(err),
  };
}
