/** The hub's metadata store: schema, opening (PGlite or PostgreSQL), and one repository per table group. */
export {
  AUDIT_ACTIONS,
  type AuditAction,
  type AuditEntry,
  type AuditQuery,
  type AuditRecord,
  appendAudit,
  listAudit,
  redactSecrets,
} from './audit-log.ts';
export { migrationsFolder, openStore, type Store, type StoreDb, type StoreOptions } from './db.ts';
export {
  deleteEdgeAndStreams,
  type EdgeHello,
  type EdgeRecord,
  type EdgeRow,
  edgeExists,
  getEdge,
  listEdges,
  type StreamState,
  saveEdgeConfig,
  saveEdgeHeartbeat,
  saveEdgeHello,
  saveStreams,
  upsertEdge,
} from './edges.ts';
export {
  countEmbeddings,
  decodeVector,
  type EmbeddingFilter,
  type EmbeddingRow,
  type EmbeddingSource,
  embeddingDimensions,
  embeddingKeysWhere,
  embeddingOwners,
  embeddingPage,
  hasEmbeddings,
  insertEmbeddings,
  type StoredVector,
  trackEmbeddings,
} from './embeddings.ts';
export {
  type EventColumns,
  type EventFilter,
  type EventRecord,
  insertStreamEvents,
  listEvents,
} from './events.ts';
export {
  discardQuarantined,
  listQuarantine,
  QUARANTINE_BYTES_PER_EDGE,
  QUARANTINE_PER_EDGE,
  type QuarantinedBatch,
  type QuarantineEntry,
  type QuarantineQuery,
  quarantineBatch,
  quarantinePayload,
} from './quarantine.ts';
export * as storeSchema from './schema.ts';
export { TOKEN_ROLES, type TokenRole } from './schema.ts';
export {
  affectedRows,
  numArray,
  ROWS_PER_STATEMENT,
  type StoreExecutor,
  type StoreHandle,
  textArray,
} from './sql.ts';
export {
  claimEnrollment,
  insertToken,
  listTokens,
  revokeEdgeTokens,
  revokeToken,
  type TokenRecord,
  type TokenRow,
  tokenById,
  tokenExists,
  touchTokenLastUsed,
} from './tokens.ts';
export {
  type CompactPoint,
  deleteTrackPointsBefore,
  insertMessagePoints,
  insertTrackPoints,
  type PointMessage,
  pointsOfTrack,
  queryTrackPoints,
  type TrackPoint,
  type TrackPointQuery,
  type TrackPointRow,
} from './track-points.ts';
export {
  byTrackKey,
  countTracksByStream,
  formatTrackKey,
  listTracks,
  parseTrackKey,
  sameTrack,
  type TrackFilter,
  type TrackKey,
  type TrackRecord,
  type TrackRow,
  tracksByKeys,
  upsertTracks,
} from './tracks.ts';
export { ackUplinkBatch, type UplinkBatchKey } from './uplink-acks.ts';
