/** Writes and reads of edges, tracks and track points. */
import { and, asc, eq, gte, lt, sql } from 'drizzle-orm';
import type { Store, StoreDb } from './db.ts';
import { edges, trackPoints, type tracks } from './schema.ts';

/** Rows per INSERT statement (points, tracks): one statement unnests arrays of up to this many rows. */
export const ROWS_PER_STATEMENT = 10_000;

/** What writes take: an open store's database or a transaction on it. */
export type StoreExecutor = Pick<StoreDb, 'execute'>;
/** Anything holding a database to write to: a {@link Store}, or `{ db: tx }` inside a transaction. */
export interface StoreHandle {
  db: StoreExecutor;
}

/** One track's box at one moment, from uplink message `(edgeId, streamId, run, seq)`. */
export type TrackPointRow = typeof trackPoints.$inferInsert;
/** A stored track point. */
export type TrackPoint = typeof trackPoints.$inferSelect;
/** A track summary as the edge reports it; merged into the stored row. */
export type TrackRow = typeof tracks.$inferInsert;
/** An edge as it reports itself. */
export type EdgeRow = typeof edges.$inferInsert;
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

/** A PostgreSQL array literal of numbers (`{1,2.5,NaN}`), sent as one text parameter and cast in SQL. */
export function numArray(values: readonly number[]): string {
  return `{${values.join(',')}}`;
}

/** A PostgreSQL array literal of strings, each quoted and escaped (`{"a","b\\"c",NULL}`); null is NULL. */
export function textArray(values: readonly (string | null)[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    const v = values[i];
    out += v == null ? 'NULL' : `"${v.replace(/["\\]/g, '\\$&')}"`;
  }
  return `${out}}`;
}

/** Rows an INSERT/UPDATE/DELETE touched: node-postgres reports `rowCount`, PGlite `affectedRows`. */
export function affectedRows(result: unknown): number {
  const r = result as { rowCount?: number | null; affectedRows?: number };
  return r.rowCount ?? r.affectedRows ?? 0;
}

/** Inserts or updates an edge (name, version, status, heartbeat). */
export async function upsertEdge(store: Store, edge: EdgeRow): Promise<void> {
  await store.db
    .insert(edges)
    .values(edge)
    .onConflictDoUpdate({
      target: edges.id,
      set: {
        name: sql`excluded.name`,
        version: sql`excluded.version`,
        status: sql`coalesce(excluded.status, ${edges.status})`,
        lastHeartbeat: sql`coalesce(excluded.last_heartbeat, ${edges.lastHeartbeat})`,
      },
    });
}

const trackKey = (t: TrackRow) => `${t.edgeId}\u0000${t.streamId}\u0000${t.run}\u0000${t.trackId}`;

/** Merges two reports of one track: earliest first seen, latest last seen, best-scoring thumbnail. */
function mergeTrack(a: TrackRow, b: TrackRow): TrackRow {
  const bBetter =
    b.bestThumbnail != null && (a.bestThumbnail == null || (b.bestScore ?? 0) > (a.bestScore ?? 0));
  const best = bBetter ? b : a;
  return {
    ...a,
    label: b.label,
    classId: b.classId ?? a.classId,
    firstSeen: new Date(Math.min(a.firstSeen.getTime(), b.firstSeen.getTime())),
    lastSeen: new Date(Math.max(a.lastSeen.getTime(), b.lastSeen.getTime())),
    bestThumbnail: best.bestThumbnail,
    bestScore: best.bestScore,
  };
}

/** Inserts or merges tracks (one statement per 10,000): first seen kept as the minimum, last seen as the maximum, the thumbnail with the best score. */
export async function upsertTracks(store: StoreHandle, rows: readonly TrackRow[]): Promise<void> {
  const merged = new Map<string, TrackRow>();
  for (const r of rows) {
    const k = trackKey(r);
    const prev = merged.get(k);
    merged.set(k, prev ? mergeTrack(prev, r) : r);
  }
  const all = [...merged.values()];
  for (let i = 0; i < all.length; i += ROWS_PER_STATEMENT) {
    const chunk = all.slice(i, i + ROWS_PER_STATEMENT);
    const newer = sql.raw(
      'excluded.best_thumbnail is not null and (tracks.best_thumbnail is null or excluded.best_score > tracks.best_score)',
    );
    await store.db.execute(sql`insert into tracks
        (edge_id, stream_id, run, track_id, label, class_id, first_seen, last_seen, best_thumbnail, best_score)
      select e, s, r, t, l, c, to_timestamp(f / 1000.0), to_timestamp(la / 1000.0), b, sc
      from unnest(${textArray(chunk.map((r) => r.edgeId))}::text[],
        ${textArray(chunk.map((r) => r.streamId))}::text[], ${textArray(chunk.map((r) => r.run))}::text[],
        ${numArray(chunk.map((r) => r.trackId))}::int[], ${textArray(chunk.map((r) => r.label))}::text[],
        ${numArray(chunk.map((r) => r.classId ?? -1))}::int[],
        ${numArray(chunk.map((r) => r.firstSeen.getTime()))}::float8[],
        ${numArray(chunk.map((r) => r.lastSeen.getTime()))}::float8[],
        ${textArray(chunk.map((r) => r.bestThumbnail ?? null))}::text[],
        ${numArray(chunk.map((r) => r.bestScore ?? 0))}::real[]) as u(e, s, r, t, l, c, f, la, b, sc)
      on conflict (edge_id, stream_id, run, track_id) do update set
        label = excluded.label,
        class_id = excluded.class_id,
        first_seen = least(tracks.first_seen, excluded.first_seen),
        last_seen = greatest(tracks.last_seen, excluded.last_seen),
        best_thumbnail = case when ${newer} then excluded.best_thumbnail else tracks.best_thumbnail end,
        best_score = case when ${newer} then excluded.best_score else tracks.best_score end`);
  }
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

/** Retention: deletes every point older than `before`; returns how many went. */
export async function deleteTrackPointsBefore(store: Store, before: Date): Promise<number> {
  const rows = await store.db
    .delete(trackPoints)
    .where(lt(trackPoints.ts, before))
    .returning({ seq: trackPoints.seq });
  return rows.length;
}
