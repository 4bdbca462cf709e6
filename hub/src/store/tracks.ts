/** The tracks table: a track's key, merging reports of one track, and reads by filter or by key. */
import { and, desc, eq, gte, lt, or, type SQL, sql } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import type { Store } from './db.ts';
import { tracks } from './schema.ts';
import { numArray, ROWS_PER_STATEMENT, type StoreHandle, textArray } from './sql.ts';

/** A track summary as the edge reports it; merged into the stored row. */
export type TrackRow = typeof tracks.$inferInsert;
/** A stored track. */
export type TrackRecord = typeof tracks.$inferSelect;

/** What names one track: the run of a stream of an edge, and the track id within it. */
export interface TrackKey {
  edgeId: string;
  streamId: string;
  run: string;
  trackId: number;
}

/** `edgeId:streamId:run:trackId`, the key's text form (track ids in the API). */
export function formatTrackKey(k: TrackKey): string {
  return `${k.edgeId}:${k.streamId}:${k.run}:${k.trackId}`;
}

/** Splits `edgeId:streamId:run:trackId` (validated by the caller). */
export function parseTrackKey(key: string): TrackKey {
  const [edgeId, streamId, run, trackId] = key.split(':') as [string, string, string, string];
  return { edgeId, streamId, run, trackId: Number(trackId) };
}

/** The four key columns of a table holding rows of tracks (tracks, track_points, embeddings). */
interface TrackKeyColumns {
  edgeId: PgColumn;
  streamId: PgColumn;
  run: PgColumn;
  trackId: PgColumn;
}

/** The condition "this row belongs to track `k`", for any table with the track key columns. */
export function byTrackKey(table: TrackKeyColumns, k: TrackKey): SQL {
  return and(
    eq(table.edgeId, k.edgeId),
    eq(table.streamId, k.streamId),
    eq(table.run, k.run),
    eq(table.trackId, k.trackId),
  )!;
}

/** The condition "rows of `a` and `b` belong to one track" (a join on the track key). */
export function sameTrack(a: TrackKeyColumns, b: TrackKeyColumns): SQL {
  return and(eq(a.edgeId, b.edgeId), eq(a.streamId, b.streamId), eq(a.run, b.run), eq(a.trackId, b.trackId))!;
}

const mergeKey = (t: TrackRow) => `${t.edgeId}\u0000${t.streamId}\u0000${t.run}\u0000${t.trackId}`;

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
    classes: b.classes ?? a.classes ?? null,
  };
}

/** Inserts or merges tracks (one statement per 10,000): first seen kept as the minimum, last seen as the maximum, the thumbnail with the best score. */
export async function upsertTracks(store: StoreHandle, rows: readonly TrackRow[]): Promise<void> {
  const merged = new Map<string, TrackRow>();
  for (const r of rows) {
    const k = mergeKey(r);
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
        (edge_id, stream_id, run, track_id, label, class_id, first_seen, last_seen, best_thumbnail, best_score,
         classes)
      select e, s, r, t, l, c, to_timestamp(f / 1000.0), to_timestamp(la / 1000.0), b, sc, k::jsonb
      from unnest(${textArray(chunk.map((r) => r.edgeId))}::text[],
        ${textArray(chunk.map((r) => r.streamId))}::text[], ${textArray(chunk.map((r) => r.run))}::text[],
        ${numArray(chunk.map((r) => r.trackId))}::int[], ${textArray(chunk.map((r) => r.label))}::text[],
        ${numArray(chunk.map((r) => r.classId ?? -1))}::int[],
        ${numArray(chunk.map((r) => r.firstSeen.getTime()))}::float8[],
        ${numArray(chunk.map((r) => r.lastSeen.getTime()))}::float8[],
        ${textArray(chunk.map((r) => r.bestThumbnail ?? null))}::text[],
        ${numArray(chunk.map((r) => r.bestScore ?? 0))}::real[],
        ${textArray(chunk.map((r) => (r.classes ? JSON.stringify(r.classes) : null)))}::text[])
        as u(e, s, r, t, l, c, f, la, b, sc, k)
      on conflict (edge_id, stream_id, run, track_id) do update set
        label = excluded.label,
        class_id = excluded.class_id,
        first_seen = least(tracks.first_seen, excluded.first_seen),
        last_seen = greatest(tracks.last_seen, excluded.last_seen),
        best_thumbnail = case when ${newer} then excluded.best_thumbnail else tracks.best_thumbnail end,
        best_score = case when ${newer} then excluded.best_score else tracks.best_score end,
        classes = coalesce(excluded.classes, tracks.classes)`);
  }
}

/** Which tracks to list; every filter is optional. */
export interface TrackFilter {
  edgeId?: string;
  streamId?: string;
  label?: string;
  /** Tracks last seen at or after this. */
  from?: Date;
  /** Tracks first seen before this. */
  to?: Date;
  /** Most rows returned. */
  limit: number;
}

/** Tracks passing the filter, most recently seen first. */
export async function listTracks(store: Store, f: TrackFilter): Promise<TrackRecord[]> {
  const where: SQL[] = [];
  if (f.edgeId) where.push(eq(tracks.edgeId, f.edgeId));
  if (f.streamId) where.push(eq(tracks.streamId, f.streamId));
  if (f.label) where.push(eq(tracks.label, f.label));
  if (f.from) where.push(gte(tracks.lastSeen, f.from));
  if (f.to) where.push(lt(tracks.firstSeen, f.to));
  return store.db
    .select()
    .from(tracks)
    .where(and(...where))
    .orderBy(desc(tracks.lastSeen))
    .limit(f.limit);
}

/** The stored tracks among `keys` (in no particular order; a key with no row is left out). */
export async function tracksByKeys(store: Store, keys: readonly TrackKey[]): Promise<TrackRecord[]> {
  if (!keys.length) return [];
  return store.db
    .select()
    .from(tracks)
    .where(or(...keys.map((k) => byTrackKey(tracks, k))));
}

/** Stored tracks per stream (of one edge, or of all), as `n` per edge and stream. */
export async function countTracksByStream(
  store: Store,
  edgeId?: string,
): Promise<{ edgeId: string; streamId: string; n: number }[]> {
  const q = store.db
    .select({ edgeId: tracks.edgeId, streamId: tracks.streamId, n: sql<number>`count(*)::int` })
    .from(tracks);
  const rows = await (edgeId ? q.where(eq(tracks.edgeId, edgeId)) : q).groupBy(
    tracks.edgeId,
    tracks.streamId,
  );
  return rows.map((r) => ({ edgeId: r.edgeId, streamId: r.streamId, n: Number(r.n) }));
}
