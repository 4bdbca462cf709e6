/**
 * The hub's metadata schema (PostgreSQL dialect; the same tables in PGlite and PostgreSQL).
 *
 * Track ids restart at 1 whenever an edge restarts its pipeline, and so do message sequence numbers, so
 * every per-stream key also carries `run`: an id the edge picks once per process start. Tables name no
 * schema and hold no foreign keys: points may arrive before their track row, and the same migrations can
 * run inside any PostgreSQL schema (tests use one per suite).
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  check,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  real,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

/** Binary column (Buffer in and out, both drivers). */
const bytea = customType<{ data: Buffer; driverData: Buffer | Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (v) => (Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength)),
});

const tsz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** One row per edge that has ever reported. */
export const edges = pgTable('edges', {
  id: text('id').primaryKey(),
  name: text('name').notNull().default(''),
  version: text('version').notNull().default(''),
  /** The last status report, as sent. */
  status: jsonb('status'),
  /** The config the edge last reported running (JSON). */
  config: jsonb('config'),
  lastHeartbeat: tsz('last_heartbeat'),
  createdAt: tsz('created_at').notNull().defaultNow(),
});

/** A camera stream of an edge. */
export const streams = pgTable(
  'streams',
  {
    edgeId: text('edge_id').notNull(),
    streamId: text('stream_id').notNull(),
    source: text('source').notNull().default(''),
    state: text('state').notNull().default('unknown'),
    createdAt: tsz('created_at').notNull().defaultNow(),
    updatedAt: tsz('updated_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.edgeId, t.streamId] })],
);

/** One tracked object: its class, when it was first and last seen, its best thumbnail so far. */
export const tracks = pgTable(
  'tracks',
  {
    edgeId: text('edge_id').notNull(),
    streamId: text('stream_id').notNull(),
    run: text('run').notNull(),
    trackId: integer('track_id').notNull(),
    label: text('label').notNull(),
    classId: integer('class_id').notNull().default(-1),
    firstSeen: tsz('first_seen').notNull(),
    lastSeen: tsz('last_seen').notNull(),
    /** Path or URL of the best crop so far (null until one is stored). */
    bestThumbnail: text('best_thumbnail'),
    bestScore: real('best_score').notNull().default(0),
    /** The labels its crop was classified with last (stage "classify"): [{classId, label, score}], best first. */
    classes: jsonb('classes').$type<{ classId: number; label: string; score: number }[]>(),
  },
  (t) => [
    primaryKey({ columns: [t.edgeId, t.streamId, t.run, t.trackId] }),
    index('tracks_stream_last_seen_idx').on(t.edgeId, t.streamId, t.lastSeen),
  ],
);

/**
 * Track boxes over time. `(edge_id, stream_id, run, seq, track_id, point)` is unique, so a replayed uplink
 * message (same run and seq, the same points in the same order) inserts nothing twice.
 */
export const trackPoints = pgTable(
  'track_points',
  {
    edgeId: text('edge_id').notNull(),
    streamId: text('stream_id').notNull(),
    run: text('run').notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    trackId: integer('track_id').notNull(),
    /** Position of the point in its uplink message (a message holds one point per track per frame). */
    point: integer('point').notNull().default(0),
    ts: tsz('ts').notNull(),
    x1: real('x1').notNull(),
    y1: real('y1').notNull(),
    x2: real('x2').notNull(),
    y2: real('y2').notNull(),
    score: real('score').notNull(),
  },
  (t) => [
    uniqueIndex('track_points_msg_uidx').on(t.edgeId, t.streamId, t.run, t.seq, t.trackId, t.point),
    index('track_points_stream_ts_idx').on(t.edgeId, t.streamId, t.ts),
    index('track_points_ts_idx').on(t.ts),
  ],
);

/** Discrete happenings (line crossings, zone entries, edge online/offline, ...). */
export const events = pgTable(
  'events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    edgeId: text('edge_id').notNull(),
    streamId: text('stream_id'),
    kind: text('kind').notNull(),
    ts: tsz('ts').notNull(),
    data: jsonb('data'),
  },
  (t) => [index('events_edge_ts_idx').on(t.edgeId, t.ts), index('events_kind_ts_idx').on(t.kind, t.ts)],
);

/**
 * Roles a token can hold: people's API tokens (viewer < operator < admin), an edge's own credential (`edge`),
 * and one-time enrollment tokens (`enroll`) that an edge trades for its credential.
 */
export const TOKEN_ROLES = ['viewer', 'operator', 'admin', 'edge', 'enroll'] as const;
/** A token's role. */
export type TokenRole = (typeof TOKEN_ROLES)[number];

/** API and edge credentials; only a salted scrypt hash of the secret is kept. */
export const tokens = pgTable(
  'tokens',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    role: text('role').$type<TokenRole>().notNull(),
    hash: text('hash').notNull(),
    /** The edge an `edge` credential belongs to (or that an `enroll` token will create, when fixed). */
    edgeId: text('edge_id'),
    /** After this an `enroll` token no longer works. */
    expiresAt: tsz('expires_at'),
    /** When an `enroll` token was used (it works once). */
    usedAt: tsz('used_at'),
    createdAt: tsz('created_at').notNull().defaultNow(),
    revokedAt: tsz('revoked_at'),
    lastUsed: tsz('last_used'),
  },
  (t) => [
    uniqueIndex('tokens_hash_uidx').on(t.hash),
    check('tokens_role_check', sql`${t.role} in ('viewer', 'operator', 'admin', 'edge', 'enroll')`),
  ],
);

/** Maps a vector key in one model's usearch index back to the track (and moment) it came from. */
export const embeddings = pgTable(
  'embeddings',
  {
    modelId: text('model_id').notNull(),
    vectorKey: bigint('vector_key', { mode: 'bigint' }).notNull(),
    edgeId: text('edge_id').notNull(),
    streamId: text('stream_id').notNull(),
    run: text('run').notNull(),
    trackId: integer('track_id').notNull(),
    ts: tsz('ts').notNull(),
    /** The vector (float32 little-endian), so a missing or corrupt index file is rebuilt from here. */
    vector: bytea('vector').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.modelId, t.vectorKey] }),
    index('embeddings_track_idx').on(t.edgeId, t.streamId, t.run, t.trackId),
  ],
);

/** Highest uplink sequence number acknowledged per stream and run (for the uplink's acks and replays). */
export const uplinkAcks = pgTable(
  'uplink_acks',
  {
    edgeId: text('edge_id').notNull(),
    streamId: text('stream_id').notNull(),
    run: text('run').notNull(),
    lastSeq: bigint('last_seq', { mode: 'number' }).notNull(),
    updatedAt: tsz('updated_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.edgeId, t.streamId, t.run] })],
);

/**
 * Uplink batches the hub refused for their content (they fail the schema, or the store refuses a value): kept
 * here, raw, for an admin to look at or discard, instead of being retried for ever. The edge is told to drop
 * them. `(edge_id, stream_id, run, seq)` is unique, so a replay of a refused batch adds no second row.
 */
export const quarantine = pgTable(
  'quarantine',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    edgeId: text('edge_id').notNull(),
    /** Null when the frame named none that could be stored (a malformed one). */
    streamId: text('stream_id'),
    run: text('run'),
    seq: bigint('seq', { mode: 'number' }),
    /** The error code the edge was sent (BAD_MESSAGE, BATCH_INVALID, THUMBNAIL_INVALID, ...). */
    code: text('code').notNull(),
    /** Why it was refused (never SQL or query parameters). */
    reason: text('reason').notNull(),
    /** The frame as received (msgpack). */
    payload: bytea('payload').notNull(),
    bytes: integer('bytes').notNull(),
    receivedAt: tsz('received_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('quarantine_batch_uidx').on(t.edgeId, t.streamId, t.run, t.seq),
    index('quarantine_received_idx').on(t.receivedAt),
  ],
);

/**
 * Append-only record of changes made through the API: who (token id and its role) did what (`action`, e.g.
 * `token.create`, `stream.add`, `config.update`) to what (`target`), with details that never hold a secret.
 * A trigger refuses UPDATE and DELETE (migration 0003).
 */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: tsz('at').notNull().defaultNow(),
    tokenId: text('token_id').notNull(),
    role: text('role').notNull(),
    action: text('action').notNull(),
    target: text('target').notNull().default(''),
    detail: jsonb('detail'),
  },
  (t) => [index('audit_log_at_idx').on(t.at), index('audit_log_action_at_idx').on(t.action, t.at)],
);
