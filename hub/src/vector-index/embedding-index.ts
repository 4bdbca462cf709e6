/**
 * One HNSW embedding index (usearch) per embedding model, kept in a file beside a checksum sidecar.
 *
 * The file is `load()`ed, not `view()`ed: the hub keeps adding tracks after a restart and a viewed
 * (memory-mapped) usearch index is read-only. usearch crashes the process on a truncated file, so the file is
 * never handed to it unchecked: `<path>.meta.json` records its size and sha256, and a file that is missing,
 * lacks a sidecar, or does not match it is rebuilt from the `rebuild` source (the database).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { childLogger, IndexError, type Logger } from '@sightline/shared';
import { Index, MetricKind, ScalarKind } from 'usearch';
import { checkKeys, normaliseInto, normaliseMatrix } from './vectors.ts';

/** One stored embedding, as the rebuild source yields it. */
export interface IndexEntry {
  key: bigint;
  vector: Float32Array;
}

/** Where a rebuild reads every stored embedding from (the database; tests pass arrays). */
export type RebuildSource = () => AsyncIterable<IndexEntry> | Iterable<IndexEntry>;

/** Keys a filtered search may return: a predicate or a set of allowed keys. */
export type KeyFilter = ((key: bigint) => boolean) | ReadonlySet<bigint>;

/** One search result; `distance` is the cosine distance, 1 - cosine similarity (0 = same direction). */
export interface IndexMatch {
  key: bigint;
  distance: number;
}

/** A filtered search fetches this many times deeper than the k-th allowed key is expected (recall margin). */
const FILTER_MARGIN = 6;

/** Measured defaults (docs/benchmarks.md, "Embedding index"). */
export const INDEX_DEFAULTS = { connectivity: 16, expansionAdd: 128, expansionSearch: 48 } as const;

/** Options of {@link EmbeddingIndex.open}. */
export interface EmbeddingIndexOptions {
  /** The index file; its checksum sidecar is `<path>.meta.json`. */
  path: string;
  /** Embedding length (512 for osnet_x0_25_msmt17). */
  dimensions: number;
  /** Distance; only cosine. Default 'cos'. */
  metric?: 'cos';
  /** HNSW edges per node; default 16. A stored index built with another value is rebuilt. */
  connectivity?: number;
  /** Candidate list size while adding (build quality); default 128. */
  expansionAdd?: number;
  /** Candidate list size while searching (recall vs speed); default 48. Raised to the fetch size when larger. */
  expansionSearch?: number;
  /** Threads for adds, rebuilds and batched searches; default 0 = all cores. Single searches use one. */
  threads?: number;
  /** Re-reads every embedding when the file is missing or corrupt. */
  rebuild: RebuildSource;
  /** Entries per add() during a rebuild; default 8192. */
  rebuildBatch?: number;
  /** First over-fetch factor of a filtered search with a predicate (k x factor); default 10. */
  overFetch?: number;
  /** Logger; default the "index" child of the process logger. */
  log?: Logger;
}

interface Meta {
  format: 1;
  dimensions: number;
  metric: 'cos';
  connectivity: number;
  size: number;
  bytes: number;
  sha256: string;
}

/** How an index came to be open: loaded from its file or rebuilt (with the reason). */
export type OpenOutcome = { loaded: true } | { loaded: false; reason: string };

/** An HNSW cosine index of embeddings keyed by u64 (track ids), saved atomically and rebuilt when unusable. */
export class EmbeddingIndex {
  /** Whether open() loaded the file or rebuilt it, and why. */
  readonly outcome: OpenOutcome;
  private readonly opts: Required<Omit<EmbeddingIndexOptions, 'log'>> & { log: Logger };
  private index: Index;

  private constructor(opts: EmbeddingIndex['opts'], index: Index, outcome: OpenOutcome) {
    this.opts = opts;
    this.index = index;
    this.outcome = outcome;
  }

  /** Loads and checks the saved index, or rebuilds it from `rebuild` (and saves it) when missing or corrupt. */
  static async open(options: EmbeddingIndexOptions): Promise<EmbeddingIndex> {
    const opts = resolveOptions(options);
    const checked = await loadChecked(opts);
    if ('index' in checked) return new EmbeddingIndex(opts, checked.index, { loaded: true });
    opts.log.warn(
      { path: opts.path, reason: checked.reason },
      'rebuilding embedding index from the database',
    );
    const started = performance.now();
    const self = new EmbeddingIndex(opts, newIndex(opts), { loaded: false, reason: checked.reason });
    await self.fill(opts.rebuild());
    await self.save();
    opts.log.info(
      { path: opts.path, size: self.size, ms: Math.round(performance.now() - started) },
      'embedding index rebuilt',
    );
    return self;
  }

  /** Number of vectors held. */
  get size(): number {
    return this.index.size();
  }

  /** Embedding length. */
  get dimensions(): number {
    return this.opts.dimensions;
  }

  /** Whether `key` is present. */
  has(key: bigint): boolean {
    return this.index.contains(key) as boolean;
  }

  /**
   * Adds (or replaces) embeddings in one multi-threaded batch. `vectors` is one flat n x dims array or one
   * array per key. Every vector is checked first (dimensions, finite values, non-zero) and L2-normalised,
   * so a bad one rejects the whole batch before anything is added.
   */
  add(keys: BigUint64Array | readonly bigint[], vectors: Float32Array | readonly ArrayLike<number>[]): void {
    const k = checkKeys(keys);
    const v = normaliseMatrix(vectors, this.opts.dimensions);
    if (v.length / this.opts.dimensions !== k.length) {
      throw new IndexError(`${k.length} keys but ${v.length / this.opts.dimensions} vectors`);
    }
    if (k.length === 0) return;
    const present = this.index.contains(k) as boolean[];
    const replaced = k.filter((_, i) => present[i]);
    if (replaced.length > 0) this.index.remove(replaced);
    this.index.add(k, v, this.opts.threads);
  }

  /** Removes keys; returns how many were present. */
  remove(keys: BigUint64Array | readonly bigint[]): number {
    const k = checkKeys(keys);
    if (k.length === 0) return 0;
    const removed = this.index.remove(k) as number[];
    return removed.reduce((a, b) => a + b, 0);
  }

  /**
   * The k nearest keys to `vector`, nearest first. With `filter`, only keys it allows are returned: the index
   * is over-fetched (k x factor, the factor from the filter's share of the index for a set) and the fetch grows
   * until it reaches 6x deeper than the k-th allowed key (by the share that passed) or the index is exhausted,
   * so a selective filter costs time, not recall.
   */
  search(vector: ArrayLike<number>, k: number, filter?: KeyFilter): IndexMatch[] {
    checkK(k);
    const q = new Float32Array(this.opts.dimensions);
    normaliseInto(vector, this.opts.dimensions, q, 0, 'query');
    const size = this.size;
    if (size === 0) return [];
    if (!filter) return toMatches(this.index.search(q, Math.min(k, size), 1), k);
    const allowed = typeof filter === 'function' ? filter : (key: bigint) => filter.has(key);
    let fetch = Math.min(size, initialFetch(k, size, filter, this.opts.overFetch));
    for (;;) {
      const found = this.index.search(q, fetch, 1);
      const out: IndexMatch[] = [];
      let passed = 0;
      for (let i = 0; i < found.keys.length; i++) {
        const key = found.keys[i]!;
        if (!allowed(key)) continue;
        passed++;
        if (out.length < k) out.push({ key, distance: found.distances[i]! });
      }
      if (fetch >= size || found.keys.length < fetch) return out;
      // HNSW is least exact at the tail of what it returns, so the fetch must reach FILTER_MARGIN times
      // deeper than the k-th passing key is expected (from the share that passed so far).
      const needed = passed > 0 ? Math.ceil((FILTER_MARGIN * k * fetch) / passed) : fetch * 4;
      if (passed >= k && fetch >= needed) return out;
      fetch = Math.min(size, Math.max(needed, fetch * 2));
    }
  }

  /** The k nearest keys to each of several queries (flat m x dims or one array each), on all threads. */
  searchBatch(queries: Float32Array | readonly ArrayLike<number>[], k: number): IndexMatch[][] {
    checkK(k);
    const q = normaliseMatrix(queries, this.opts.dimensions, 'query');
    const m = q.length / this.opts.dimensions;
    if (this.size === 0 || m === 0) return Array.from({ length: m }, () => []);
    const kk = Math.min(k, this.size);
    if (m === 1) return [toMatches(this.index.search(q, kk, 1), k)];
    const found = this.index.search(splitRows(q, this.opts.dimensions), kk, this.opts.threads);
    return Array.from({ length: m }, (_, i) => toMatches(found.get(i), k));
  }

  /** Writes the index atomically: a temp file and its sidecar, fsynced, then renamed over the old ones. */
  async save(): Promise<void> {
    const { path } = this.opts;
    await mkdir(dirname(path), { recursive: true });
    const tag = `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    const tmp = path + tag;
    const metaTmp = metaPath(path) + tag;
    try {
      this.index.save(tmp);
      await fsyncFile(tmp);
      const meta: Meta = {
        format: 1,
        dimensions: this.opts.dimensions,
        metric: 'cos',
        connectivity: this.opts.connectivity,
        size: this.size,
        bytes: (await stat(tmp)).size,
        sha256: await sha256File(tmp),
      };
      await writeFile(metaTmp, JSON.stringify(meta));
      await fsyncFile(metaTmp);
      // A crash between the renames leaves a new file with an old sidecar: a checksum mismatch, so a rebuild.
      await rename(tmp, path);
      await rename(metaTmp, metaPath(path));
      await fsyncFile(dirname(path));
    } catch (err) {
      await rm(tmp, { force: true });
      await rm(metaTmp, { force: true });
      throw new IndexError(`cannot save the embedding index to ${path}`, { cause: err });
    }
  }

  private async fill(source: AsyncIterable<IndexEntry> | Iterable<IndexEntry>): Promise<void> {
    const dims = this.opts.dimensions;
    const batch = this.opts.rebuildBatch;
    let keys: bigint[] = [];
    let vectors = new Float32Array(batch * dims);
    for await (const entry of source) {
      normaliseInto(entry.vector, dims, vectors, keys.length * dims, `stored embedding of key ${entry.key}`);
      keys.push(entry.key);
      if (keys.length === batch) {
        this.add(keys, vectors);
        keys = [];
        vectors = new Float32Array(batch * dims);
      }
    }
    if (keys.length > 0) this.add(keys, vectors.subarray(0, keys.length * dims));
  }
}

function resolveOptions(o: EmbeddingIndexOptions): EmbeddingIndex['opts'] {
  const intIn = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min)
      throw new IndexError(`${name} must be an integer >= ${min}, got ${v}`);
    return v;
  };
  if ((o.metric ?? 'cos') !== 'cos') throw new IndexError(`metric must be 'cos', got ${String(o.metric)}`);
  return {
    path: o.path,
    dimensions: intIn('dimensions', o.dimensions, 1),
    metric: 'cos',
    connectivity: intIn('connectivity', o.connectivity ?? INDEX_DEFAULTS.connectivity, 2),
    expansionAdd: intIn('expansionAdd', o.expansionAdd ?? INDEX_DEFAULTS.expansionAdd, 1),
    expansionSearch: intIn('expansionSearch', o.expansionSearch ?? INDEX_DEFAULTS.expansionSearch, 1),
    threads: intIn('threads', o.threads ?? 0, 0),
    rebuild: o.rebuild,
    rebuildBatch: intIn('rebuildBatch', o.rebuildBatch ?? 8192, 1),
    overFetch: intIn('overFetch', o.overFetch ?? 10, 1),
    log: o.log ?? childLogger('index'),
  };
}

function newIndex(o: EmbeddingIndex['opts']): Index {
  return new Index({
    dimensions: o.dimensions,
    metric: MetricKind.Cos,
    quantization: ScalarKind.F32,
    connectivity: o.connectivity,
    expansion_add: o.expansionAdd,
    expansion_search: o.expansionSearch,
    multi: false,
  });
}

/** The loaded index, or why it cannot be used. Throws only when the file belongs to another model. */
async function loadChecked(o: EmbeddingIndex['opts']): Promise<{ index: Index } | { reason: string }> {
  const size = await stat(o.path).then(
    (s) => s.size,
    () => undefined,
  );
  if (size === undefined) return { reason: 'index file missing' };
  let meta: Meta;
  try {
    meta = JSON.parse(await readFile(metaPath(o.path), 'utf8')) as Meta;
  } catch (err) {
    return { reason: `checksum sidecar missing or unreadable (${(err as Error).message})` };
  }
  if (meta.format !== 1 || typeof meta.sha256 !== 'string') return { reason: 'checksum sidecar malformed' };
  if (meta.dimensions !== o.dimensions || meta.metric !== o.metric) {
    throw new IndexError(
      `${o.path} holds ${meta.dimensions}-d ${meta.metric} embeddings, this index is ${o.dimensions}-d ${o.metric}: ` +
        'is it another model’s index? Point the path elsewhere or delete the file to rebuild',
    );
  }
  if (meta.connectivity !== o.connectivity) {
    return {
      reason: `connectivity changed (${meta.connectivity} in the file, ${o.connectivity} configured)`,
    };
  }
  if (size !== meta.bytes) return { reason: `file is ${size} bytes, ${meta.bytes} expected (truncated?)` };
  if ((await sha256File(o.path)) !== meta.sha256) return { reason: 'checksum mismatch (corrupt file)' };
  const index = newIndex(o);
  try {
    index.load(o.path);
  } catch (err) {
    return { reason: `usearch could not load it (${(err as Error).message})` };
  }
  if (index.dimensions() !== o.dimensions || index.size() !== meta.size) {
    return {
      reason: `loaded ${index.size()} x ${index.dimensions()}-d, sidecar says ${meta.size} x ${meta.dimensions}`,
    };
  }
  if (index.size() > 0) {
    const probe = new Float32Array(o.dimensions).fill(1 / Math.sqrt(o.dimensions));
    const found = index.search(probe, Math.min(10, index.size()), 1);
    if (
      found.keys.length === 0 ||
      !found.distances.every((d) => Number.isFinite(d) && d >= -1e-3 && d <= 2.001)
    ) {
      return { reason: 'sanity search returned nothing or non-cosine distances' };
    }
  }
  return { index };
}

function initialFetch(k: number, size: number, filter: KeyFilter, overFetch: number): number {
  if (typeof filter === 'function') return k * overFetch;
  // Expect share = |set| / size of the results to pass.
  return Math.ceil((FILTER_MARGIN * k * size) / Math.max(1, filter.size));
}

function checkK(k: number): void {
  if (!Number.isInteger(k) || k <= 0) throw new IndexError(`k must be a positive integer, got ${k}`);
}

function toMatches(found: { keys: BigUint64Array; distances: Float32Array }, k: number): IndexMatch[] {
  const n = Math.min(k, found.keys.length);
  const out: IndexMatch[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = { key: found.keys[i]!, distance: found.distances[i]! };
  return out;
}

function splitRows(flat: Float32Array, dims: number): Float32Array[] {
  return Array.from({ length: flat.length / dims }, (_, i) => flat.subarray(i * dims, (i + 1) * dims));
}

function metaPath(path: string): string {
  return `${path}.meta.json`;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
