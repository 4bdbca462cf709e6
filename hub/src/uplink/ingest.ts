/**
 * Stores uplink batches: thumbnails on disk, then points, tracks, embeddings, events, the stream row and the
 * stream's ack in one database transaction, then new embeddings into their model's index.
 *
 * Idempotent: storing a batch again adds nothing (points and embeddings have unique keys derived from
 * `(edgeId, streamId, run, seq)`, events are skipped when an identical one of the same stream exists, tracks
 * merge). A batch is checked whole before anything is written (ids, thumbnails' sha256 and JPEG magic, embedding
 * model ids, dimensions and values), so a bad one is refused with nothing of it stored.
 *
 * Batches of one edge are written one after another; different edges write concurrently (PostgreSQL's pool;
 * PGlite has one connection and queues them).
 */
import { createHash } from 'node:crypto';
import { type Batch, childLogger, ID_PATTERN, ID_RULE, type Logger, SightlineError } from '@sightline/shared';
import type { Store } from '../store/db.ts';
import { decodeVector, type EmbeddingRow, insertEmbeddings } from '../store/embeddings.ts';
import { type EventColumns, insertStreamEvents } from '../store/events.ts';
import type { StoreHandle } from '../store/sql.ts';
import { insertMessagePoints } from '../store/track-points.ts';
import { type TrackRow, upsertTracks } from '../store/tracks.ts';
import { ackUplinkBatch } from '../store/uplink-acks.ts';
import type { EmbeddingIndex } from '../vector-index/embedding-index.ts';
import { checkModelId, type IndexRegistry } from '../vector-index/index-registry.ts';
import { normaliseInto } from '../vector-index/vectors.ts';
import { type ThumbnailStore, verifyThumbnail } from './thumbnail-store.ts';

/** Options of {@link Ingest}. */
export interface IngestOptions {
  /** The hub's metadata store. */
  store: Store;
  /** Where thumbnails go. */
  thumbnails: ThumbnailStore;
  /** The per-model embedding indexes. */
  indexes: IndexRegistry;
  /** Logger. Default the "ingest" child of the process logger. */
  log?: Logger;
}

/** What storing one batch did. */
export interface StoreBatchResult {
  /** Track points that were new (replayed ones are not counted). */
  points: number;
  /** Embeddings that were new. */
  embeddings: number;
  /** Events that were new. */
  events: number;
  /** Thumbnails written to disk (not there before). */
  thumbnails: number;
  /** The batch added nothing and its seq was at or below the stream's acked seq: a replay. */
  duplicate: boolean;
}

const KEY_MASK = (1n << 63n) - 1n;

/**
 * The index key of embedding `i` of batch `(edgeId, streamId, run, seq)`: the first 63 bits of the sha256 of
 * `edgeId|streamId|run|seq|i`, so a replay maps to the same key (and fits PostgreSQL's signed bigint).
 */
export function vectorKey(edgeId: string, streamId: string, run: string, seq: number, i: number): bigint {
  const digest = createHash('sha256').update(`${edgeId}|${streamId}|${run}|${seq}|${i}`).digest();
  return digest.readBigUInt64BE(0) & KEY_MASK;
}

/** One model's embeddings of a batch, checked and decoded. */
interface ModelEmbeddings {
  index: EmbeddingIndex;
  keys: bigint[];
  vectors: Float32Array[];
}

/** Runs tasks one at a time per key, tasks of different keys concurrently. */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `task` after every earlier task of `key` has settled; resolves or rejects as it does. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const result = prev.then(task);
    const tail = result.then(
      () => {},
      () => {},
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Resolves once every task queued so far has settled. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all(this.tails.values());
  }

  /** Keys with a task running or queued. */
  get busy(): number {
    return this.tails.size;
  }
}

/** Stores uplink batches idempotently (see the module comment). */
export class Ingest {
  private readonly store: Store;
  private readonly thumbnails: ThumbnailStore;
  private readonly indexes: IndexRegistry;
  private readonly log: Logger;
  private readonly queue = new KeyedQueue();

  constructor(options: IngestOptions) {
    this.store = options.store;
    this.thumbnails = options.thumbnails;
    this.indexes = options.indexes;
    this.log = options.log ?? childLogger('ingest');
  }

  /**
   * Stores one batch of edge `edgeId` (after any earlier batch of that edge still being stored). Throws a
   * SightlineError (BATCH_INVALID, THUMBNAIL_INVALID, EMBEDDING_INVALID) with nothing stored when the batch is
   * malformed; a database error rejects with nothing of the batch in the database either (one transaction).
   */
  storeBatch(edgeId: string, batch: Batch): Promise<StoreBatchResult> {
    return this.queue.run(edgeId, () => this.write(edgeId, batch));
  }

  /** Resolves once every batch handed to storeBatch so far is stored (or failed). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  private async write(edgeId: string, batch: Batch): Promise<StoreBatchResult> {
    checkIds(edgeId, batch);
    for (const t of batch.thumbnails) verifyThumbnail(t.sha256, t.jpeg);
    const events = encodeEvents(batch);
    const models = await this.prepareEmbeddings(edgeId, batch);

    // Thumbnails first: content-addressed, so one left behind by a failed transaction is harmless, and a
    // stored track never names a thumbnail that is not on disk.
    const written = await Promise.all(batch.thumbnails.map((t) => this.thumbnails.put(t.sha256, t.jpeg)));

    const msg = { edgeId, streamId: batch.streamId, run: batch.run, seq: batch.seq };
    const db = await this.store.transaction(async (tx) => {
      const h: StoreHandle = { db: tx };
      const points = await insertMessagePoints(h, msg, batch.points);
      if (batch.tracks.length > 0) await upsertTracks(h, trackRows(edgeId, batch));
      const embeddings = models.size > 0 ? await insertEmbeddings(h, msg, embeddingRows(batch, models)) : 0;
      const newEvents =
        events.kinds.length > 0 ? await insertStreamEvents(h, edgeId, batch.streamId, events) : 0;
      const seen = await ackUplinkBatch(h, msg);
      return { points, embeddings, events: newEvents, seen };
    });

    // Into the index after the commit. Keys the index lacks are added even when their rows were already
    // stored (a hub that stopped between the commit and this point), so a replay also repairs the index.
    for (const [modelId, m] of models) {
      const keys: bigint[] = [];
      const vectors: Float32Array[] = [];
      m.keys.forEach((key, i) => {
        if (!m.index.has(key)) {
          keys.push(key);
          vectors.push(m.vectors[i]!);
        }
      });
      if (keys.length > 0) m.index.add(keys, vectors);
      if (keys.length > 0 && db.embeddings === 0) {
        this.log.info({ model: modelId, added: keys.length }, 'stored embeddings re-added to the index');
      }
    }

    const added = db.points + db.embeddings + db.events;
    return {
      points: db.points,
      embeddings: db.embeddings,
      events: db.events,
      thumbnails: written.filter(Boolean).length,
      duplicate: added === 0 && db.seen,
    };
  }

  /** Checks every embedding of the batch and opens the indexes they go to; keyed by model id. */
  private async prepareEmbeddings(edgeId: string, batch: Batch): Promise<Map<string, ModelEmbeddings>> {
    const models = new Map<string, ModelEmbeddings>();
    const dims = new Map<string, number>();
    batch.embeddings.forEach((e, i) => {
      checkModelId(e.model);
      if (e.vector.length === 0 || e.vector.length % 4 !== 0) {
        throw new SightlineError(
          'EMBEDDING_INVALID',
          `embedding ${i} (model ${e.model}) is ${e.vector.length} bytes, not a whole number of float32 values`,
        );
      }
      const d = e.vector.length / 4;
      const first = dims.get(e.model);
      if (first !== undefined && first !== d) {
        throw new SightlineError(
          'EMBEDDING_INVALID',
          `embedding ${i} of model ${e.model} has ${d} dimensions, an earlier one in the batch has ${first}`,
        );
      }
      dims.set(e.model, d);
    });
    for (const [modelId, d] of dims) {
      const index = await this.indexes.get(modelId, d);
      models.set(modelId, { index, keys: [], vectors: [] });
    }
    const scratch = new Float32Array(Math.max(0, ...dims.values()));
    batch.embeddings.forEach((e, i) => {
      const m = models.get(e.model)!;
      const vector = decodeVector(e.vector);
      if (vector.length !== m.index.dimensions) {
        throw new SightlineError(
          'EMBEDDING_INVALID',
          `embedding ${i} of model ${e.model} has ${vector.length} dimensions, the model's index has ${m.index.dimensions}`,
        );
      }
      try {
        normaliseInto(vector, vector.length, scratch, 0, `embedding ${i} of model ${e.model}`);
      } catch (err) {
        throw new SightlineError('EMBEDDING_INVALID', (err as Error).message, { cause: err });
      }
      m.keys.push(vectorKey(edgeId, batch.streamId, batch.run, batch.seq, i));
      m.vectors.push(vector);
    });
    return models;
  }
}

function checkIds(edgeId: string, batch: Batch): void {
  for (const [what, v] of [
    ['edge id', edgeId],
    ['stream id', batch.streamId],
    ['run', batch.run],
  ] as const) {
    if (typeof v !== 'string' || !ID_PATTERN.test(v)) {
      throw new SightlineError(
        'BATCH_INVALID',
        `${what} ${JSON.stringify(String(v).slice(0, 80))} must be ${ID_RULE}`,
      );
    }
  }
  if (!Number.isSafeInteger(batch.seq) || batch.seq < 1) {
    throw new SightlineError('BATCH_INVALID', `batch seq must be a positive safe integer, got ${batch.seq}`);
  }
}

function encodeEvents(batch: Batch): EventColumns {
  const out: EventColumns = { kinds: [], ts: [], data: [] };
  batch.events.forEach((e, i) => {
    let data = '';
    if (e.data !== undefined) {
      try {
        data = JSON.stringify(e.data);
      } catch (err) {
        throw new SightlineError(
          'BATCH_INVALID',
          `event ${i} (${e.kind}) has data that is not JSON: ${(err as Error).message}`,
        );
      }
    }
    out.kinds.push(e.kind);
    out.ts.push(e.ts);
    out.data.push(data);
  });
  return out;
}

function trackRows(edgeId: string, batch: Batch): TrackRow[] {
  return batch.tracks.map((t) => ({
    edgeId,
    streamId: batch.streamId,
    run: batch.run,
    trackId: t.trackId,
    label: t.label,
    classId: t.classId,
    firstSeen: new Date(t.firstSeen),
    lastSeen: new Date(t.lastSeen),
    bestThumbnail: t.thumbnail ?? null,
    bestScore: t.thumbnail ? (t.thumbnailScore ?? 0) : 0,
    classes: t.classes ?? null,
  }));
}

/** The batch's embeddings as rows, each with the index key {@link Ingest.prepareEmbeddings} gave it. */
function embeddingRows(batch: Batch, models: Map<string, ModelEmbeddings>): EmbeddingRow[] {
  const next = new Map<string, number>();
  return batch.embeddings.map((e) => {
    const m = models.get(e.model)!;
    const j = next.get(e.model) ?? 0;
    next.set(e.model, j + 1);
    return { modelId: e.model, key: m.keys[j]!, trackId: e.trackId, ts: e.ts, vector: e.vector };
  });
}
