/**
 * The embeddings table (the source of truth of the vector indexes): vectors stored as float32 little-endian bytes
 * under a 63-bit index key, with the track they belong to. Writes for ingest, pages for index rebuilds, and the
 * reads of similar-track search.
 */
import { and, eq, gte, inArray, lt, type SQL, sql } from 'drizzle-orm';
import type { Store } from './db.ts';
import { embeddings, tracks } from './schema.ts';
import { affectedRows, numArray, type StoreHandle, textArray } from './sql.ts';
import { byTrackKey, sameTrack, type TrackKey } from './tracks.ts';

/** float32 little-endian bytes as a Float32Array (copied: the bytes need not be 4-aligned). */
export function decodeVector(bytes: Uint8Array): Float32Array {
  const n = bytes.length >>> 2;
  const out = new Float32Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, n * 4);
  for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/** The run of a stream an uplink batch of embeddings came from. */
export interface EmbeddingSource {
  edgeId: string;
  streamId: string;
  run: string;
}

/** One embedding to store. */
export interface EmbeddingRow {
  modelId: string;
  /** Its key in the model's index. */
  key: bigint;
  trackId: number;
  /** Milliseconds since the epoch. */
  ts: number;
  /** float32 little-endian bytes. */
  vector: Uint8Array;
}

/** Inserts embeddings of one run of a stream (one statement); an existing `(model, key)` is skipped. Returns how many were new. */
export async function insertEmbeddings(
  h: StoreHandle,
  src: EmbeddingSource,
  rows: readonly EmbeddingRow[],
): Promise<number> {
  const hex = rows.map((e) =>
    Buffer.from(e.vector.buffer, e.vector.byteOffset, e.vector.byteLength).toString('hex'),
  );
  const res = await h.db.execute(sql`insert into embeddings
      (model_id, vector_key, edge_id, stream_id, run, track_id, ts, vector)
    select m, k, ${src.edgeId}::text, ${src.streamId}::text, ${src.run}::text, t, to_timestamp(ms / 1000.0),
      decode(v, 'hex')
    from unnest(${textArray(rows.map((e) => e.modelId))}::text[], ${`{${rows.map((e) => e.key).join(',')}}`}::bigint[],
      ${numArray(rows.map((e) => e.trackId))}::int[], ${numArray(rows.map((e) => e.ts))}::float8[],
      ${textArray(hex)}::text[]) as u(m, k, t, ms, v)
    on conflict do nothing`);
  return affectedRows(res);
}

type Rows<T> = { rows: T[] };

/** Length of the model's stored vectors (from one row), or undefined when none is stored. */
export async function embeddingDimensions(store: Store, modelId: string): Promise<number | undefined> {
  const res = (await store.db.execute(
    sql`select octet_length(vector) / 4 as d from embeddings where model_id = ${modelId} limit 1`,
  )) as unknown as Rows<{ d: number | string }>;
  const row = res.rows[0];
  return row ? Number(row.d) : undefined;
}

/** How many embeddings of the model are stored. */
export async function countEmbeddings(store: Store, modelId: string): Promise<number> {
  const res = (await store.db.execute(
    sql`select count(*)::float8 as n from embeddings where model_id = ${modelId}`,
  )) as unknown as Rows<{ n: number }>;
  return Number(res.rows[0]?.n ?? 0);
}

/** One stored vector and its index key. */
export interface StoredVector {
  key: bigint;
  vector: Float32Array;
}

/** Up to `limit` of the model's embeddings with a key above `after`, in key order (keyset pagination). */
export async function embeddingPage(
  store: Store,
  modelId: string,
  after: bigint,
  limit: number,
): Promise<StoredVector[]> {
  const res = (await store.db.execute(
    sql`select vector_key::text as k, vector as v from embeddings
        where model_id = ${modelId} and vector_key > ${after.toString()}::bigint
        order by vector_key limit ${limit}`,
  )) as unknown as Rows<{ k: string; v: Uint8Array }>;
  return res.rows.map((r) => ({ key: BigInt(r.k), vector: decodeVector(r.v) }));
}

/** Whether any embedding of the model is stored. */
export async function hasEmbeddings(store: Store, modelId: string): Promise<boolean> {
  const [known] = await store.db
    .select({ one: sql<number>`1` })
    .from(embeddings)
    .where(eq(embeddings.modelId, modelId))
    .limit(1);
  return known !== undefined;
}

/** The model's stored vectors of one track. */
export async function trackEmbeddings(store: Store, modelId: string, k: TrackKey): Promise<Float32Array[]> {
  const rows = await store.db
    .select({ vector: embeddings.vector })
    .from(embeddings)
    .where(and(eq(embeddings.modelId, modelId), byTrackKey(embeddings, k)));
  return rows.map((r) => decodeVector(r.vector));
}

/** Filters on the tracks that embeddings belong to; every one is optional. */
export interface EmbeddingFilter {
  edgeId?: string;
  streamId?: string;
  /** Tracks last seen at or after this. */
  from?: Date;
  /** Tracks first seen before this. */
  to?: Date;
  label?: string;
}

/** Index keys of the model's embeddings whose track passes the filter. */
export async function embeddingKeysWhere(
  store: Store,
  modelId: string,
  f: EmbeddingFilter,
): Promise<bigint[]> {
  const where: SQL[] = [eq(embeddings.modelId, modelId)];
  if (f.edgeId) where.push(eq(embeddings.edgeId, f.edgeId));
  if (f.streamId) where.push(eq(embeddings.streamId, f.streamId));
  if (f.from) where.push(gte(tracks.lastSeen, f.from));
  if (f.to) where.push(lt(tracks.firstSeen, f.to));
  if (f.label) where.push(eq(tracks.label, f.label));
  const rows = await store.db
    .select({ key: embeddings.vectorKey })
    .from(embeddings)
    .innerJoin(tracks, sameTrack(tracks, embeddings))
    .where(and(...where));
  return rows.map((r) => BigInt(r.key));
}

/** The track each of the given index keys of the model belongs to (keys not stored are left out). */
export async function embeddingOwners(
  store: Store,
  modelId: string,
  keys: readonly bigint[],
): Promise<(TrackKey & { key: bigint })[]> {
  const rows = await store.db
    .select({
      key: embeddings.vectorKey,
      edgeId: embeddings.edgeId,
      streamId: embeddings.streamId,
      run: embeddings.run,
      trackId: embeddings.trackId,
    })
    .from(embeddings)
    .where(and(eq(embeddings.modelId, modelId), inArray(embeddings.vectorKey, [...keys])));
  return rows.map((r) => ({ ...r, key: BigInt(r.key) }));
}
