/** The track_points table: a track's boxes over time, written a statement per 10,000 and read by stream or by track. */
import { and, asc, eq, gte, lt, sql } from 'drizzle-orm';
import type { Store } from './db.ts';
import { trackPoints } from './schema.ts';
import { affectedRows, numArray, ROWS_PER_STATEMENT, type StoreHandle, textArray } from './sql.ts';
import { byTrackKey, type TrackKey } from './tracks.ts';

/** One track's box at one moment, from uplink message `(edgeId, streamId, run, seq)`. */
export type TrackPointRow = typeof trackPoints.$inferInsert;
/** A stored track point. */
export type TrackPoint = typeof trackPoints.$inferSelect;
/** The uplink message a set of points came in. */
export interface PointMessage {
  edgeId: string;
  streamId: string;
  run: string;
  seq: number;
}
/** One point in the uplink's compact form: `[trackId, tsMs, x1, y1, x2, y2, score]`. */
export type CompactPoint = readonly [number, number, number, number, number, number, number];

/**
 * Inserts points, each chunk of up to 10,000 with one statement (`unnest` of typed arrays); a point whose
 * `(edgeId, streamId, run, seq, trackId)` exists is skipped. Returns how many were new.
 */
export async function insertTrackPoints(
  store: StoreHandle,
  points: readonly TrackPointRow[],
): Promise<number> {
  let inserted = 0;
  for (let i = 0; i < points.length; i += ROWS_PER_STATEMENT) {
    const chunk = points.slice(i, i + ROWS_PER_STATEMENT);
    const res = await store.db.execute(sql`insert into track_points
        (edge_id, stream_id, run, seq, track_id, ts, x1, y1, x2, y2, score)
      select e, s, r, q, t, to_timestamp(ms / 1000.0), a, b, c, d, p
      from unnest(${textArray(chunk.map((p) => p.edgeId))}::text[],
        ${textArray(chunk.map((p) => p.streamId))}::text[], ${textArray(chunk.map((p) => p.run))}::text[],
        ${numArray(chunk.map((p) => p.seq))}::bigint[], ${numArray(chunk.map((p) => p.trackId))}::int[],
        ${numArray(chunk.map((p) => p.ts.getTime()))}::float8[], ${numArray(chunk.map((p) => p.x1))}::real[],
        ${numArray(chunk.map((p) => p.y1))}::real[], ${numArray(chunk.map((p) => p.x2))}::real[],
        ${numArray(chunk.map((p) => p.y2))}::real[], ${numArray(chunk.map((p) => p.score))}::real[])
        as u(e, s, r, q, t, ms, a, b, c, d, p)
      on conflict do nothing`);
    inserted += affectedRows(res);
  }
  return inserted;
}

/**
 * Inserts the points of one uplink message (the message's ids sent once, not per row), up to 10,000 per
 * statement, point `i` of the message stored with `point = i`; replayed points are skipped. Returns how many
 * were new.
 */
export async function insertMessagePoints(
  store: StoreHandle,
  msg: PointMessage,
  points: readonly CompactPoint[],
): Promise<number> {
  if (!Number.isSafeInteger(msg.seq) || msg.seq < 0) {
    throw new RangeError(`message seq ${msg.seq} is not a non-negative safe integer`);
  }
  let inserted = 0;
  for (let i = 0; i < points.length; i += ROWS_PER_STATEMENT) {
    const chunk = points.slice(i, i + ROWS_PER_STATEMENT);
    const col = (j: number) => numArray(chunk.map((p) => p[j]!));
    const first = i - 1; // ordinality counts from 1
    const res = await store.db.execute(sql`insert into track_points
        (edge_id, stream_id, run, seq, track_id, point, ts, x1, y1, x2, y2, score)
      select ${msg.edgeId}::text, ${msg.streamId}::text, ${msg.run}::text, ${msg.seq}::bigint,
        t, ${first}::int + n::int, to_timestamp(ms / 1000.0), a, b, c, d, p
      from unnest(${col(0)}::int[], ${col(1)}::float8[], ${col(2)}::real[], ${col(3)}::real[],
        ${col(4)}::real[], ${col(5)}::real[], ${col(6)}::real[]) with ordinality as u(t, ms, a, b, c, d, p, n)
      on conflict do nothing`);
    inserted += affectedRows(res);
  }
  return inserted;
}

/** Which points to read. */
export interface TrackPointQuery {
  edgeId: string;
  streamId: string;
  /** Inclusive start. */
  from: Date;
  /** Exclusive end. */
  to: Date;
  /** Most rows returned, oldest first. Default 10000. */
  limit?: number;
}

/** Points of one stream with `from <= ts < to`, ordered by time, then track id. */
export async function queryTrackPoints(store: Store, q: TrackPointQuery): Promise<TrackPoint[]> {
  return store.db
    .select()
    .from(trackPoints)
    .where(
      and(
        eq(trackPoints.edgeId, q.edgeId),
        eq(trackPoints.streamId, q.streamId),
        gte(trackPoints.ts, q.from),
        lt(trackPoints.ts, q.to),
      ),
    )
    .orderBy(asc(trackPoints.ts), asc(trackPoints.trackId), asc(trackPoints.seq))
    .limit(q.limit ?? 10_000);
}

/** Up to `limit` points of one track, oldest first. */
export async function pointsOfTrack(store: Store, k: TrackKey, limit: number): Promise<TrackPoint[]> {
  return store.db
    .select()
    .from(trackPoints)
    .where(byTrackKey(trackPoints, k))
    .orderBy(trackPoints.ts)
    .limit(limit);
}

/** Retention: deletes every point older than `before`; returns how many went. */
export async function deleteTrackPointsBefore(store: Store, before: Date): Promise<number> {
  const rows = await store.db
    .delete(trackPoints)
    .where(lt(trackPoints.ts, before))
    .returning({ seq: trackPoints.seq });
  return rows.length;
}
