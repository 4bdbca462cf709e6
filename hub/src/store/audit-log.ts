/** The audit log: an append-only record of who changed what through the API (tokens, streams, config, edges). */
import { storableJson, storableText } from '@sightline/shared';
import { and, desc, eq, gte, lt, type SQL } from 'drizzle-orm';
import type { Store } from './db.ts';
import { auditLog } from './schema.ts';

/** What the API records. */
export const AUDIT_ACTIONS = [
  'token.create',
  'token.revoke',
  'enrollment.create',
  'edge.enroll',
  'edge.remove',
  'stream.add',
  'stream.remove',
  'stream.start',
  'stream.stop',
  'config.update',
  'quarantine.discard',
] as const;
/** One kind of change. */
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** One change, as recorded. */
export interface AuditEntry {
  /** The token that made it. */
  tokenId: string;
  /** That token's role then. */
  role: string;
  action: AuditAction;
  /** What was changed (a token id, `edgeId/streamId`, an edge id, ...). */
  target: string;
  /** Details (never a secret: see {@link redactSecrets}). */
  detail?: Record<string, unknown>;
}

/** A recorded change as listed. */
export interface AuditRecord extends Omit<AuditEntry, 'action' | 'detail'> {
  id: number;
  at: string;
  action: string;
  detail?: unknown;
}

/** Keys whose values are secrets wherever they appear in a detail (tokens, passwords, keys). */
const SECRET_KEY = /token|secret|password|passwd|credential|api[-_]?key|private[-_]?key/i;

/**
 * A copy of `value` without secrets: values under secret-looking keys become "[redacted]", and URLs lose their
 * password (`rtsp://user:***@host/...`). Used for every audit detail.
 */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactUrl(value);
  if (value === null || typeof value !== 'object' || depth > 32) return value;
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY.test(k) && v !== undefined && v !== null ? '[redacted]' : redactSecrets(v, depth + 1);
  }
  return out;
}

function redactUrl(s: string): string {
  return s.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#@:\s]*):[^/?#@\s]*@/i, '$1:***@');
}

/** Appends one entry (its detail redacted and made storable). */
export async function appendAudit(store: Store, entry: AuditEntry): Promise<void> {
  const detail = entry.detail === undefined ? null : storableJson(redactSecrets(entry.detail)).value;
  await store.db.insert(auditLog).values({
    tokenId: storableText(entry.tokenId),
    role: storableText(entry.role),
    action: entry.action,
    target: storableText(entry.target.slice(0, 256)),
    detail,
  });
}

/** Filters of {@link listAudit}. */
export interface AuditQuery {
  /** Only entries at or after this time. */
  since?: Date;
  action?: string;
  tokenId?: string;
  /** Only ids below this one (paging, newest first). */
  before?: number;
  limit: number;
}

/** Entries, newest first. */
export async function listAudit(store: Store, q: AuditQuery): Promise<AuditRecord[]> {
  const where: SQL[] = [];
  if (q.since) where.push(gte(auditLog.at, q.since));
  if (q.action) where.push(eq(auditLog.action, q.action));
  if (q.tokenId) where.push(eq(auditLog.tokenId, q.tokenId));
  if (q.before !== undefined) where.push(lt(auditLog.id, q.before));
  const rows = await store.db
    .select()
    .from(auditLog)
    .where(and(...where))
    .orderBy(desc(auditLog.id))
    .limit(q.limit);
  return rows.map((r) => ({
    id: Number(r.id),
    at: r.at.toISOString(),
    tokenId: r.tokenId,
    role: r.role,
    action: r.action,
    target: r.target,
    ...(r.detail != null ? { detail: r.detail } : {}),
  }));
}
