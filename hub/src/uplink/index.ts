/** The hub's uplink ingest: storing edge batches (points, tracks, thumbnails, embeddings, events) idempotently. */
export { Ingest, type IngestOptions, KeyedQueue, type StoreBatchResult, vectorKey } from './ingest.ts';
export {
  checkSha256,
  ThumbnailStore,
  type ThumbnailStoreOptions,
  verifyThumbnail,
} from './thumbnail-store.ts';
