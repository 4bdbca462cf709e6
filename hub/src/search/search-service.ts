/**
 * Similar-track search: an embedding (or the mean appearance of a stored track) against one model's index, with
 * filters on time, edge, stream and class. Filters become the set of allowed vector keys, which the index search
 * over-fetches against until it has k of them, so a narrow filter keeps its recall. A track has several
 * embeddings; results are per track (its best-matching embedding), and the query track itself is left out.
 */
import { and, eq, gte, inArray, lt, type SQL, sql } from 'drizzle-orm';
import { apiError } from '../api/errors.ts';
import { parseTrackKey, type SearchHit, type SearchInput, trackView } from '../api/routes.ts';
import type { Store } from '../store/db.ts';
import { embeddings, tracks } from '../store/schema.ts';
import type { IndexRegistry } from '../uplink/index-registry.ts';
import { decodeVector } from '../uplink/index-registry.ts';

export interface SearchServiceOptions {
  store: Store;
  indexes: IndexRegistry;
}

const trackKeyOf = (r: { edgeId: string; streamId: string; run: string; trackId: number }) =>
  `${r.edgeId}:${r.streamId}:${r.run}:${r.trackId}`;

export class SearchService {
  readonly #store: Store;
  readonly #indexes: IndexRegistry;

  constructor(options: SearchServiceOptions) {
    this.#store = options.store;
    this.#indexes = options.indexes;
  }

  async search(input: SearchInput): Promise<SearchHit[]> {
    const db = this.#store.db;
    let query: Float32Array;
    let exclude: string | undefined;
    if (input.track) {
      const k = parseTrackKey(input.track);
      const rows = await db
        .select({ vector: embeddings.vector })
        .from(embeddings)
        .where(
          and(
            eq(embeddings.modelId, input.model),
            eq(embeddings.edgeId, k.edgeId),
            eq(embeddings.streamId, k.streamId),
            eq(embeddings.run, k.run),
            eq(embeddings.trackId, k.trackId),
          ),
        );
      if (!rows.length) {
        throw apiError(
          404,
          'NOT_FOUND',
          `track ${input.track} has no ${input.model} embeddings to search with`,
        );
      }
      query = meanOf(rows.map((r) => decodeVector(r.vector)));
      exclude = input.track;
    } else {
      query = Float32Array.from(input.embedding!);
      if (!query.some((v) => v !== 0)) throw apiError(400, 'VALIDATION_FAILED', 'body.embedding: all zeros');
    }
    const [known] = await db
      .select({ one: sql<number>`1` })
      .from(embeddings)
      .where(eq(embeddings.modelId, input.model))
      .limit(1);
    if (!known) return [];
    const index = await this.#indexes.get(input.model, query.length).catch((err: { code?: string }) => {
      if (err.code === 'EMBEDDING_INVALID')
        throw apiError(400, 'VALIDATION_FAILED', `body.embedding: ${String((err as Error).message)}`);
      throw err;
    });
    if (index.dimensions !== query.length) {
      throw apiError(
        400,
        'VALIDATION_FAILED',
        `body.embedding: ${input.model} embeddings have ${index.dimensions} dimensions, got ${query.length}`,
      );
    }
    const allowed = await this.#allowedKeys(input);
    if (allowed && allowed.size === 0) return [];
    // Several embeddings per track: fetch deeper than k, and deeper again if deduplication left too few.
    for (const depth of [4, 16, 64]) {
      const fetch = Math.min(input.k * depth + 1, index.size);
      const matches = index.search(query, fetch, allowed);
      const hits = await this.#toTracks(input.model, matches, exclude);
      if (hits.length >= input.k || fetch >= index.size || matches.length < fetch)
        return hits.slice(0, input.k);
    }
    return [];
  }

  /** Vector keys passing the filters (undefined: no filter). */
  async #allowedKeys(input: SearchInput): Promise<Set<bigint> | undefined> {
    const f = input.filters;
    const where: SQL[] = [eq(embeddings.modelId, input.model)];
    if (f.edgeId) where.push(eq(embeddings.edgeId, f.edgeId));
    if (f.streamId) where.push(eq(embeddings.streamId, f.streamId));
    if (f.from) where.push(gte(tracks.lastSeen, new Date(f.from)));
    if (f.to) where.push(lt(tracks.firstSeen, new Date(f.to)));
    if (f.label) where.push(eq(tracks.label, f.label));
    if (where.length === 1) return undefined;
    const rows = await this.#store.db
      .select({ key: embeddings.vectorKey })
      .from(embeddings)
      .innerJoin(
        tracks,
        and(
          eq(tracks.edgeId, embeddings.edgeId),
          eq(tracks.streamId, embeddings.streamId),
          eq(tracks.run, embeddings.run),
          eq(tracks.trackId, embeddings.trackId),
        ),
      )
      .where(and(...where));
    return new Set(rows.map((r) => BigInt(r.key)));
  }

  async #toTracks(
    model: string,
    matches: { key: bigint; distance: number }[],
    exclude: string | undefined,
  ): Promise<SearchHit[]> {
    if (!matches.length) return [];
    const db = this.#store.db;
    const owners = await db
      .select({
        key: embeddings.vectorKey,
        edgeId: embeddings.edgeId,
        streamId: embeddings.streamId,
        run: embeddings.run,
        trackId: embeddings.trackId,
      })
      .from(embeddings)
      .where(
        and(
          eq(embeddings.modelId, model),
          inArray(
            embeddings.vectorKey,
            matches.map((m) => m.key),
          ),
        ),
      );
    const ownerOf = new Map(owners.map((o) => [BigInt(o.key), o]));
    const best = new Map<string, number>();
    for (const m of matches) {
      const owner = ownerOf.get(m.key);
      if (!owner) continue;
      const key = trackKeyOf(owner);
      if (key === exclude) continue;
      const score = 1 - m.distance;
      if (!best.has(key) || score > best.get(key)!) best.set(key, score);
    }
    if (!best.size) return [];
    const keys = [...best.keys()].map(parseTrackKey);
    const rows = await db
      .select()
      .from(tracks)
      .where(
        sql.join(
          keys.map(
            (k) =>
              sql`(${tracks.edgeId} = ${k.edgeId} and ${tracks.streamId} = ${k.streamId} and ${tracks.run} = ${k.run} and ${tracks.trackId} = ${k.trackId})`,
          ),
          sql` or `,
        ),
      );
    const byKey = new Map(rows.map((r) => [trackKeyOf(r), r]));
    const hits: SearchHit[] = [];
    for (const [key, score] of best) {
      const row = byKey.get(key);
      const k = parseTrackKey(key);
      hits.push(
        row
          ? { ...trackView(row), score }
          : // An embedding whose track row has not arrived yet (points and tracks may come later).
            {
              id: key,
              ...k,
              label: '',
              classId: -1,
              firstSeen: new Date(0).toISOString(),
              lastSeen: new Date(0).toISOString(),
              score,
            },
      );
    }
    return hits.sort((a, b) => b.score - a.score);
  }
}

/** The L2-normalised mean of vectors. */
function meanOf(vectors: Float32Array[]): Float32Array {
  const out = new Float32Array(vectors[0]!.length);
  for (const v of vectors) for (let i = 0; i < out.length; i++) out[i]! += v[i]!;
  let norm = 0;
  for (const x of out) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < out.length; i++) out[i]! /= norm;
  return out;
}
