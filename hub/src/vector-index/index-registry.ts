/**
 * One embedding index per embedding model, opened on first use at `<dataDir>/index/<modelId>.usearch` and kept
 * open. The `embeddings` table is the source of truth: a missing or corrupt index file is rebuilt from it, and an
 * index file that is merely behind it (the hub stopped before its last save) is caught up on open.
 */
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ClosedError, childLogger, type Logger, SightlineError } from '@sightline/shared';
import type { Store } from '../store/db.ts';
import { countEmbeddings, embeddingDimensions, embeddingPage } from '../store/embeddings.ts';
import { EmbeddingIndex, type EmbeddingIndexOptions, type IndexEntry } from './embedding-index.ts';

/** Options of {@link IndexRegistry}. */
export interface IndexRegistryOptions {
  /** The hub's metadata store (the `embeddings` table). */
  store: Store;
  /** Hub data directory; index files go in `<dataDir>/index`. Default `./data`. */
  dataDir?: string;
  /** Rows per page when streaming the embeddings table into a rebuild. Default 2000. */
  pageSize?: number;
  /** Index tuning passed to every {@link EmbeddingIndex.open} (connectivity, threads, ...). Default none. */
  index?: Partial<Omit<EmbeddingIndexOptions, 'path' | 'dimensions' | 'rebuild'>>;
  /** Logger. Default the "index" child of the process logger. */
  log?: Logger;
}

const MODEL_ID = /^[A-Za-z0-9_.-]{1,128}$/;

/** Throws EMBEDDING_INVALID unless `modelId` is 1..128 letters, digits, `_`, `.` or `-` (and not `.`/`..`). */
export function checkModelId(modelId: unknown): asserts modelId is string {
  if (typeof modelId !== 'string' || !MODEL_ID.test(modelId) || /^\.+$/.test(modelId)) {
    throw new SightlineError(
      'EMBEDDING_INVALID',
      `embedding model id ${JSON.stringify(String(modelId).slice(0, 140))} must be 1..128 letters, digits, _ . -`,
    );
  }
}

interface Entry {
  dimensions: number;
  index: Promise<EmbeddingIndex>;
  /** Size at the last save (or open); saveAll skips an index still this size. */
  savedSize: number;
  /** Set once the index has opened (loaded or rebuilt). */
  loaded?: EmbeddingIndex;
}

/** Opens, caches, saves and rebuilds the per-model embedding indexes of the hub. */
export class IndexRegistry {
  /** The folder holding the index files. */
  readonly dir: string;
  private readonly store: Store;
  private readonly pageSize: number;
  private readonly indexOptions: IndexRegistryOptions['index'];
  private readonly log: Logger;
  private readonly entries = new Map<string, Entry>();
  private saving: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(options: IndexRegistryOptions) {
    this.store = options.store;
    this.dir = resolve(options.dataDir ?? './data', 'index');
    this.pageSize = options.pageSize ?? 2000;
    this.indexOptions = options.index;
    this.log = options.log ?? childLogger('index');
  }

  /** The index file of `modelId`. */
  path(modelId: string): string {
    checkModelId(modelId);
    return join(this.dir, `${modelId}.usearch`);
  }

  /**
   * The open index of `modelId`, opening it on the first call (loading the file, or rebuilding it from the
   * database). Throws EMBEDDING_INVALID when `dimensions` differs from the model's stored embeddings.
   */
  async get(modelId: string, dimensions: number): Promise<EmbeddingIndex> {
    if (this.closed) throw new ClosedError('index registry');
    checkModelId(modelId);
    const cached = this.entries.get(modelId);
    if (cached) {
      if (cached.dimensions !== dimensions) throw dimensionMismatch(modelId, cached.dimensions, dimensions);
      return cached.index;
    }
    const entry: Entry = { dimensions, index: this.open(modelId, dimensions), savedSize: 0 };
    this.entries.set(modelId, entry);
    try {
      const index = await entry.index;
      entry.savedSize = index.size;
      entry.loaded = index;
      return index;
    } catch (err) {
      if (this.entries.get(modelId) === entry) this.entries.delete(modelId);
      throw err;
    }
  }

  /** Each open index: its model, and its size once loaded (absent while it still loads). */
  states(): { model: string; size?: number }[] {
    return [...this.entries].map(([model, e]) => (e.loaded ? { model, size: e.loaded.size } : { model }));
  }

  /** The index of `modelId` if it is open (or opening) already. */
  peek(modelId: string): Promise<EmbeddingIndex> | undefined {
    return this.entries.get(modelId)?.index;
  }

  /** Models with an open (or opening) index. */
  models(): string[] {
    return [...this.entries.keys()];
  }

  /** Saves every open index that grew since its last save; returns how many were saved. */
  async saveAll(): Promise<number> {
    const run = this.saving.then(() => this.saveChanged());
    this.saving = run.catch(() => {});
    return run;
  }

  /** Saves what changed and forgets every index; later calls to get() throw CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.saveAll();
    } finally {
      this.entries.clear();
    }
  }

  private async saveChanged(): Promise<number> {
    let saved = 0;
    for (const entry of this.entries.values()) {
      const index = await entry.index.catch(() => undefined);
      if (!index || index.size === entry.savedSize) continue;
      const size = index.size;
      await index.save();
      entry.savedSize = size;
      saved++;
    }
    return saved;
  }

  private async open(modelId: string, dimensions: number): Promise<EmbeddingIndex> {
    if (!Number.isInteger(dimensions) || dimensions < 1) {
      throw new SightlineError(
        'EMBEDDING_INVALID',
        `model ${modelId}: embeddings need at least 1 dimension, got ${dimensions}`,
      );
    }
    const stored = await embeddingDimensions(this.store, modelId);
    if (stored !== undefined && stored !== dimensions) throw dimensionMismatch(modelId, stored, dimensions);
    const path = this.path(modelId);
    const open = () =>
      EmbeddingIndex.open({
        ...this.indexOptions,
        log: this.indexOptions?.log ?? this.log,
        path,
        dimensions,
        rebuild: () => this.rows(modelId),
      });
    let index = await open();
    if (!index.outcome.loaded) return index;
    // The file is intact, but the hub may have stopped after storing embeddings and before saving it.
    const count = await countEmbeddings(this.store, modelId);
    if (index.size > count) {
      this.log.warn(
        { model: modelId, indexSize: index.size, stored: count },
        'embedding index holds vectors the database does not; rebuilding it',
      );
      await rm(path, { force: true });
      index = await open();
    } else if (index.size < count) {
      let added = 0;
      for await (const page of this.pages(modelId)) {
        const missing = page.filter((e) => !index.has(e.key));
        if (missing.length === 0) continue;
        index.add(
          missing.map((e) => e.key),
          missing.map((e) => e.vector),
        );
        added += missing.length;
      }
      this.log.info({ model: modelId, added }, 'embedding index caught up with the database');
      await index.save();
    }
    return index;
  }

  /** Every stored embedding of the model, in key order (the rebuild source). */
  private async *rows(modelId: string): AsyncGenerator<IndexEntry> {
    for await (const page of this.pages(modelId)) yield* page;
  }

  /** The model's stored embeddings, a page at a time (keyset pagination on the primary key). */
  private async *pages(modelId: string): AsyncGenerator<IndexEntry[]> {
    let after = -1n;
    for (;;) {
      const page = await embeddingPage(this.store, modelId, after, this.pageSize);
      if (page.length === 0) return;
      yield page;
      after = page.at(-1)!.key;
      if (page.length < this.pageSize) return;
    }
  }
}

function dimensionMismatch(modelId: string, has: number, got: number): SightlineError {
  return new SightlineError(
    'EMBEDDING_INVALID',
    `model ${modelId} has ${has}-dimensional embeddings, got a ${got}-dimensional one`,
  );
}
