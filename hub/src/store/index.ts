/** The hub's metadata store: schema, opening (PGlite or PostgreSQL) and the track-point repository. */
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
  discardQuarantined,
  listQuarantine,
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
  type CompactPoint,
  deleteTrackPointsBefore,
  type EdgeRow,
  insertMessagePoints,
  insertTrackPoints,
  numArray,
  type PointMessage,
  queryTrackPoints,
  ROWS_PER_STATEMENT,
  type StoreExecutor,
  type StoreHandle,
  type TrackPoint,
  type TrackPointQuery,
  type TrackPointRow,
  type TrackRow,
  textArray,
  upsertEdge,
  upsertTracks,
} from './track-points.ts';
