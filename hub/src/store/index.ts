/** The hub's metadata store: schema, opening (PGlite or PostgreSQL) and the track-point repository. */
export { migrationsFolder, openStore, type Store, type StoreDb, type StoreOptions } from './db.ts';
export * as storeSchema from './schema.ts';
export { TOKEN_ROLES, type TokenRole } from './schema.ts';
export {
  deleteTrackPointsBefore,
  type EdgeRow,
  INSERT_BATCH,
  insertTrackPoints,
  queryTrackPoints,
  type TrackPoint,
  type TrackPointQuery,
  type TrackPointRow,
  type TrackRow,
  upsertEdge,
  upsertTracks,
} from './track-points.ts';
