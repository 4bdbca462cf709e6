/** Writes and reads of edges, tracks and track points. */
import { and, asc, eq, gte, lt, sql } from 'drizzle-orm';
import type { Store } from './db.ts';
import { edges, trackPoints, tracks } from './schema.ts';

/** Rows per INSERT statement. */
export const INSERT_BATCH = 500;

/** One track's box at one moment, from uplink message `(edgeId, streamId, run, seq)`. */
export type TrackPointRow = typeof trackPoints.$inferInsert;
/** A stored track point. */
export type TrackPoint = typeof trackPoints.$inferSelect;
/** A track summary as the edge reports it; merged into the stored row. */
export type TrackRow = typeof tracks.$inferInsert;
/** An edge as it reports itself. */
export type EdgeRow = typeof edges.$inferInsert;

/** Inserts points in batches of 500; a point whose `(edgeId, streamId, run, seq, trackId)` exists is skipped. Returns how many were new. */
export async function insertTrackPoints(store: Store, points: readonly TrackPointRow[]): Promise<number> {
  let inserted = 0;
  for (let i = 0; i < points.length; i += INSERT_BATCH) {
    const batch = points.slice(i, i + INSERT_BATCH);
    const rows = await store.db
      .insert(trackPoints)
      .values(batch)
      .onConflictDoNothing()
      .returning({ seq: trackPoints.seq });
    inserted += rows.length;
  }
  return inserted;
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

/** Inserts or merges tracks: first seen kept as the minimum, last seen as the maximum, the thumbnail with the best score. */
export async function upsertTracks(store: Store, rows: readonly TrackRow[]): Promise<void> {
  const merged = new Map<string, TrackRow>();
  for (const r of rows) {
    const k = trackKey(r);
    const prev = merged.get(k);
    merged.set(k, prev ? mergeTrack(prev, r) : r);
  }
  const all = [...merged.values()];
  const newer = sql`excluded.best_thumbnail is not null and (${tracks.bestThumbnail} is null or excluded.best_score > ${tracks.bestScore})`;
  for (let i = 0; i < all.length; i += INSERT_BATCH) {
    await store.db
      .insert(tracks)
      .values(all.slice(i, i + INSERT_BATCH))
      .onConflictDoUpdate({
        target: [tracks.edgeId, tracks.streamId, tracks.run, tracks.trackId],
        set: {
          label: sql`excluded.label`,
          classId: sql`excluded.class_id`,
          firstSeen: sql`least(${tracks.firstSeen}, excluded.first_seen)`,
          lastSeen: sql`greatest(${tracks.lastSeen}, excluded.last_seen)`,
          bestThumbnail: sql`case when ${newer} then excluded.best_thumbnail else ${tracks.bestThumbnail} end`,
          bestScore: sql`case when ${newer} then excluded.best_score else ${tracks.bestScore} end`,
        },
      });
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
