/** The quarantine of uplink batches the hub refused for their content: kept raw, listed, discarded by an admin. */
import { storableText } from '@sightline/shared';
import { and, desc, eq, inArray, lt, type SQL, sql } from 'drizzle-orm';
import type { Store } from './db.ts';
import { quarantine } from './schema.ts';

/** Batches kept per edge; older ones are deleted when a newer one comes in (the counter still counts them). */
export const QUARANTINE_PER_EDGE = 200;
/** Payload bytes kept per edge (64 MiB), so an edge sending large poison batches cannot fill the disk. */
export const QUARANTINE_BYTES_PER_EDGE = 64 * 1024 * 1024;

/** One refused batch, as the uplink hands it over. */
export interface QuarantineEntry {
  edgeId: string;
  /** What the frame named, as far as it named anything usable (unusable text is made storable). */
  streamId?: unknown;
  run?: unknown;
  seq?: unknown;
  /** The code the edge was sent. */
  code: string;
  /** Why (no SQL, no parameters). */
  reason: string;
  /** The frame as received. */
  payload: Uint8Array;
}

/** A quarantined batch as listed (without its payload). */
export interface QuarantinedBatch {
  id: number;
  edgeId: string;
  streamId?: string;
  run?: string;
  seq?: number;
  code: string;
  reason: string;
  bytes: number;
  receivedAt: string;
}

const text = (v: unknown, max: number): string | null =>
  typeof v === 'string' && v.length > 0 ? storableText(v.slice(0, max)) : null;

/**
 * Stores a refused batch; true when it is new (a replay of a batch already here adds nothing). Keeps the newest
 * batches of the edge, at most `limits.batches` of them holding at most `limits.bytes` of payload (the newest is
 * always kept). Rejects only when the store cannot take it now (an outage): the caller must then not tell the
 * edge to drop the batch.
 */
export async function quarantineBatch(
  store: Store,
  entry: QuarantineEntry,
  limits: { batches?: number; bytes?: number } = {},
): Promise<boolean> {
  const perEdge = limits.batches ?? QUARANTINE_PER_EDGE;
  const maxBytes = limits.bytes ?? QUARANTINE_BYTES_PER_EDGE;
  const edgeId = storableText(entry.edgeId);
  const seq = typeof entry.seq === 'number' && Number.isSafeInteger(entry.seq) ? entry.seq : null;
  const payload = Buffer.from(entry.payload.buffer, entry.payload.byteOffset, entry.payload.byteLength);
  const rows = await store.db
    .insert(quarantine)
    .values({
      edgeId,
      streamId: text(entry.streamId, 256),
      run: text(entry.run, 256),
      seq,
      code: storableText(entry.code.slice(0, 64)),
      reason: storableText(entry.reason.slice(0, 1000)),
      payload,
      bytes: payload.byteLength,
    })
    .onConflictDoNothing()
    .returning({ id: quarantine.id });
  if (rows.length > 0) {
    await store.db.execute(sql`delete from quarantine where edge_id = ${edgeId} and id in (
      select id from (
        select id, row_number() over (order by id desc) as n, sum(bytes) over (order by id desc) as total
        from quarantine where edge_id = ${edgeId}) kept
      where n > 1 and (n > ${perEdge} or total > ${maxBytes}))`);
  }
  return rows.length > 0;
}

/** Filters of {@link listQuarantine}. */
export interface QuarantineQuery {
  edgeId?: string;
  /** Only ids below this one (paging, newest first). */
  before?: number;
  limit: number;
}

/** Quarantined batches, newest first, without payloads. */
export async function listQuarantine(store: Store, q: QuarantineQuery): Promise<QuarantinedBatch[]> {
  const where: SQL[] = [];
  if (q.edgeId) where.push(eq(quarantine.edgeId, q.edgeId));
  if (q.before !== undefined) where.push(lt(quarantine.id, q.before));
  const rows = await store.db
    .select({
      id: quarantine.id,
      edgeId: quarantine.edgeId,
      streamId: quarantine.streamId,
      run: quarantine.run,
      seq: quarantine.seq,
      code: quarantine.code,
      reason: quarantine.reason,
      bytes: quarantine.bytes,
      receivedAt: quarantine.receivedAt,
    })
    .from(quarantine)
    .where(and(...where))
    .orderBy(desc(quarantine.id))
    .limit(q.limit);
  return rows.map((r) => ({
    id: Number(r.id),
    edgeId: r.edgeId,
    ...(r.streamId !== null ? { streamId: r.streamId } : {}),
    ...(r.run !== null ? { run: r.run } : {}),
    ...(r.seq !== null ? { seq: Number(r.seq) } : {}),
    code: r.code,
    reason: r.reason,
    bytes: r.bytes,
    receivedAt: r.receivedAt.toISOString(),
  }));
}

/** The raw frame of one quarantined batch, or undefined. */
export async function quarantinePayload(store: Store, id: number): Promise<Buffer | undefined> {
  const [row] = await store.db
    .select({ payload: quarantine.payload })
    .from(quarantine)
    .where(eq(quarantine.id, id));
  return row?.payload;
}

/** Deletes quarantined batches by id; returns the ids that were there. */
export async function discardQuarantined(store: Store, ids: readonly number[]): Promise<number[]> {
  if (ids.length === 0) return [];
  const rows = await store.db
    .delete(quarantine)
    .where(inArray(quarantine.id, [...ids]))
    .returning({ id: quarantine.id });
  return rows.map((r) => Number(r.id));
}
