/** The events table: an uplink batch's events written without replays, and the newest read back by filter. */
import { and, desc, eq, type SQL, sql } from 'drizzle-orm';
import type { Store } from './db.ts';
import { events } from './schema.ts';
import { affectedRows, numArray, type StoreHandle, textArray } from './sql.ts';

/** A stored event. */
export type EventRecord = typeof events.$inferSelect;

/** Events of one batch, a column each. */
export interface EventColumns {
  kinds: string[];
  /** Milliseconds since the epoch. */
  ts: number[];
  /** JSON text of each event's data, '' for none. */
  data: string[];
}

/**
 * Inserts a batch's events of stream `streamId` of `edgeId` (one statement), skipping each that the stream
 * already has an identical copy of (same kind, ts and data): that is how a replayed batch adds none. Two identical
 * events in one batch are both kept; an identical event in a later batch of the stream is taken for a replay and
 * dropped. Returns how many were new.
 */
export async function insertStreamEvents(
  h: StoreHandle,
  edgeId: string,
  streamId: string,
  ev: EventColumns,
): Promise<number> {
  const res = await h.db.execute(sql`insert into events (edge_id, stream_id, kind, ts, data)
    select ${edgeId}::text, ${streamId}::text, u.k, to_timestamp(u.ms / 1000.0), nullif(u.d, '')::jsonb
    from unnest(${textArray(ev.kinds)}::text[], ${numArray(ev.ts)}::float8[], ${textArray(ev.data)}::text[])
      as u(k, ms, d)
    where not exists (
      select 1 from events x
      where x.edge_id = ${edgeId}::text and x.stream_id = ${streamId}::text and x.kind = u.k
        and x.ts = to_timestamp(u.ms / 1000.0) and x.data is not distinct from nullif(u.d, '')::jsonb)`);
  return affectedRows(res);
}

/** Which events to list; the filters are optional. */
export interface EventFilter {
  edgeId?: string;
  kind?: string;
  /** Most rows returned. */
  limit: number;
}

/** Events passing the filter, newest (highest id) first. */
export async function listEvents(store: Store, f: EventFilter): Promise<EventRecord[]> {
  const where: SQL[] = [];
  if (f.edgeId) where.push(eq(events.edgeId, f.edgeId));
  if (f.kind) where.push(eq(events.kind, f.kind));
  return store.db
    .select()
    .from(events)
    .where(and(...where))
    .orderBy(desc(events.id))
    .limit(f.limit);
}
