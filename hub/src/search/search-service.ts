/**
 * Similar-track search: an embedding (or the mean appearance of a stored track) against one model's index, with
 * filters on time, edge, stream and class. Filters become the set of allowed vector keys, which the index search
 * over-fetches against until it has k of them, so a narrow filter keeps its recall. A track has several
 * embeddings; results are per track (its best-matching embedding), and the query track itself is left out.
 */
import { SightlineError } from '@sightline/shared';
import type { Store } from '../store/db.ts';
import { embeddingKeysWhere, embeddingOwners, hasEmbeddings, trackEmbeddings } from '../store/embeddings.ts';
import { formatTrackKey, parseTrackKey, tracksByKeys } from '../store/tracks.ts';
import type { IndexRegistry } from '../vector-index/index-registry.ts';
import { type TrackView, trackView } from '../views/track-view.ts';

export interface SearchServiceOptions {
  store: Store;
  indexes: IndexRegistry;
}

/** Filters of a search; every one is optional. */
export interface SearchFilters {
  /** ISO time: tracks last seen at or after it. */
  from?: string;
  /** ISO time: tracks first seen before it. */
  to?: string;
  edgeId?: string;
  streamId?: string;
  label?: string;
}

/** One search, validated (exactly one of `embedding` and `track`). */
export interface SearchQuery {
  /** The query vector (any scale). */
  embedding?: number[];
  /** Search with this track's appearance (`edgeId:streamId:run:trackId`). */
  track?: string;
  /** The embedding model whose index to search. */
  model: string;
  /** Most results. */
  k: number;
  filters: SearchFilters;
}

/** One result: a track and its cosine similarity to the query. */
export type SearchHit = TrackView & { score: number };

/**
 * A search that cannot run as asked: NOT_FOUND (the query track has no embeddings of the model) or
 * VALIDATION_FAILED (an all-zero vector, or one whose length does not fit the model's index).
 */
export class SearchQueryError extends SightlineError {
  declare readonly code: 'NOT_FOUND' | 'VALIDATION_FAILED';
  constructor(code: 'NOT_FOUND' | 'VALIDATION_FAILED', message: string) {
    super(code, message);
  }
}

export class SearchService {
  readonly #store: Store;
  readonly #indexes: IndexRegistry;

  constructor(options: SearchServiceOptions) {
    this.#store = options.store;
    this.#indexes = options.indexes;
  }

  /** The `k` tracks most like the query, best first. Throws {@link SearchQueryError} for a query it cannot run. */
  async search(input: SearchQuery): Promise<SearchHit[]> {
    let query: Float32Array;
    let exclude: string | undefined;
    if (input.track) {
      const vectors = await trackEmbeddings(this.#store, input.model, parseTrackKey(input.track));
      if (!vectors.length) {
        throw new SearchQueryError(
          'NOT_FOUND',
          `track ${input.track} has no ${input.model} embeddings to search with`,
        );
      }
      query = meanOf(vectors);
      exclude = input.track;
    } else {
      query = Float32Array.from(input.embedding!);
      if (!query.some((v) => v !== 0))
        throw new SearchQueryError('VALIDATION_FAILED', 'body.embedding: all zeros');
    }
    if (!(await hasEmbeddings(this.#store, input.model))) return [];
    const index = await this.#indexes.get(input.model, query.length).catch((err: { code?: string }) => {
      if (err.code === 'EMBEDDING_INVALID')
        throw new SearchQueryError('VALIDATION_FAILED', `body.embedding: ${String((err as Error).message)}`);
      throw err;
    });
    if (index.dimensions !== query.length) {
      throw new SearchQueryError(
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
  async #allowedKeys(input: SearchQuery): Promise<Set<bigint> | undefined> {
    const f = input.filters;
    if (!f.edgeId && !f.streamId && !f.from && !f.to && !f.label) return undefined;
    const keys = await embeddingKeysWhere(this.#store, input.model, {
      edgeId: f.edgeId,
      streamId: f.streamId,
      from: f.from ? new Date(f.from) : undefined,
      to: f.to ? new Date(f.to) : undefined,
      label: f.label,
    });
    return new Set(keys);
  }

  async #toTracks(
    model: string,
    matches: { key: bigint; distance: number }[],
    exclude: string | undefined,
  ): Promise<SearchHit[]> {
    if (!matches.length) return [];
    const owners = await embeddingOwners(
      this.#store,
      model,
      matches.map((m) => m.key),
    );
    const ownerOf = new Map(owners.map((o) => [o.key, o]));
    const best = new Map<string, number>();
    for (const m of matches) {
      const owner = ownerOf.get(m.key);
      if (!owner) continue;
      const key = formatTrackKey(owner);
      if (key === exclude) continue;
      const score = 1 - m.distance;
      if (!best.has(key) || score > best.get(key)!) best.set(key, score);
    }
    if (!best.size) return [];
    const keys = [...best.keys()].map(parseTrackKey);
    const rows = await tracksByKeys(this.#store, keys);
    const byKey = new Map(rows.map((r) => [formatTrackKey(r), r]));
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
