/**
 * The edge -> hub uplink protocol: one WebSocket per edge at `/api/v1/uplink`, authenticated with the edge's
 * credential (`Authorization: Bearer <token>`), carrying binary msgpack frames, one message per frame.
 *
 * Edge -> hub: `hello` first, then `batch` (numbered per stream and run, acknowledged by the hub once stored),
 * `heartbeat` (live status, not acknowledged), `result` answers to the hub's `command`s, and `infer` (frames for the
 * overflow workers, see overflow.ts; never kept in the outbox).
 * Hub -> edge: `welcome` (answer to hello), `ack`, `command`, `error`, `inferred`.
 *
 * Delivery is at-least-once: the edge keeps every batch in its on-disk outbox until acked and replays unacked
 * ones after a reconnect; the hub stores `(edgeId, streamId, run, seq)` idempotently, so a replay adds nothing.
 * `run` is an id the edge picks once per process start: sequence numbers restart at 1 with it.
 */
import { z } from 'zod';
import { IdSchema } from './ids.ts';
import { InferRequestSchema, InferredSchema } from './overflow.ts';

/** Uplink protocol version; the hub refuses a hello with another major version. */
export const UPLINK_PROTOCOL = 1;
/** Path of the uplink WebSocket on the hub. */
export const UPLINK_PATH = '/api/v1/uplink';
/** Largest uplink frame the hub accepts (bytes). */
export const UPLINK_MAX_FRAME_BYTES = 8 << 20;

/** Most entries of each kind one batch may carry: the hub refuses a bigger batch, the edge's batcher cuts before. */
export const BATCH_LIMITS = {
  points: 100_000,
  tracks: 10_000,
  thumbnails: 256,
  embeddings: 1024,
  events: 1024,
} as const;
/** Largest thumbnail JPEG (bytes). */
export const THUMBNAIL_MAX_BYTES = 1 << 20;
/** Most dimensions of an embedding vector. */
export const EMBEDDING_MAX_DIMS = 4096;
/** Most streams a hello or heartbeat may report. */
export const UPLINK_MAX_STREAMS = 256;

/** Largest value of a PostgreSQL integer (int4) column: track ids, class ids. */
export const INT4_MAX = 2_147_483_647;
/** Smallest value of a PostgreSQL integer (int4) column. */
export const INT4_MIN = -2_147_483_648;
/** Largest magnitude of a PostgreSQL real (float4) column: box coordinates, scores. */
export const FLOAT4_MAX = 3.4028234663852886e38;
/** Latest time a timestamp on the wire may name (ms since the epoch): the end of JavaScript's Date range. */
export const MAX_TIME_MS = 8_640_000_000_000_000;
/** Deepest nesting of a JSON value the hub stores (event data, configs). */
export const MAX_JSON_DEPTH = 32;

/** What a text with a NUL gets told: PostgreSQL text and jsonb cannot hold U+0000. */
export const NUL_MESSAGE = 'must not contain NUL (\\u0000) characters: the store cannot hold them';

const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when `s` holds a NUL (U+0000), which no PostgreSQL text or jsonb value can hold. */
export function hasNul(s: string): boolean {
  return s.includes('\u0000');
}

/** A string a PostgreSQL text column can hold: at most `max` characters, no NUL. */
export function pgText(max: number, min = 0) {
  return z
    .string()
    .min(min)
    .max(max)
    .refine((s) => !hasNul(s), NUL_MESSAGE);
}

/** An integer a PostgreSQL integer (int4) column holds. */
export const int4 = z.number().int().min(INT4_MIN).max(INT4_MAX);

/**
 * A number a PostgreSQL real (float4) column holds: finite as a float32 (|v| up to 3.4e38). A non-zero value too
 * small for a float32 (PostgreSQL refuses it as an underflow) becomes 0, which is what storing it would keep.
 */
export const float4 = z
  .number()
  .refine((v) => Number.isFinite(Math.fround(v)), `must be a finite float32 (|v| <= ${FLOAT4_MAX})`)
  .transform((v) => (Math.fround(v) === 0 ? 0 : v));

/**
 * Why `value` cannot be stored as jsonb (the path and the problem), or undefined when it can: only null, booleans,
 * finite numbers, strings, arrays and plain objects, at most MAX_JSON_DEPTH deep; no NUL and no unpaired UTF-16
 * surrogate in any string or key (jsonb refuses both).
 */
export function jsonProblem(value: unknown, path = '', depth = 0): string | undefined {
  const at = path || '(value)';
  if (value === null || typeof value === 'boolean') return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : `${at}: not a finite number`;
  if (typeof value === 'string') return textProblem(value, at);
  if (typeof value !== 'object') return `${at}: a ${typeof value} is not JSON`;
  if (depth >= MAX_JSON_DEPTH) return `${at}: nested deeper than ${MAX_JSON_DEPTH} levels`;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = jsonProblem(value[i], path ? `${path}.${i}` : String(i), depth + 1);
      if (p) return p;
    }
    return undefined;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null)
    return `${at}: a ${proto?.constructor?.name ?? 'object'} is not JSON`;
  for (const [k, v] of Object.entries(value)) {
    const kp = path ? `${path}.${k}` : k;
    const p = textProblem(k, `${at} key ${JSON.stringify(k.slice(0, 40))}`) ?? jsonProblem(v, kp, depth + 1);
    if (p) return p;
  }
  return undefined;
}

function textProblem(s: string, at: string): string | undefined {
  if (hasNul(s)) return `${at}: ${NUL_MESSAGE}`;
  if (UNPAIRED_SURROGATE.test(s)) return `${at}: holds an unpaired UTF-16 surrogate (not valid Unicode)`;
  return undefined;
}

/**
 * A copy of `value` that jsonb can hold, and whether anything had to change: NUL becomes U+FFFD, unpaired
 * surrogates U+FFFD, non-finite numbers and non-JSON values (bytes, bigints, ...) null, deeper nesting null. For
 * what an edge reports about itself (hello, heartbeats): shown, never refused, so an edge is never cut off.
 */
export function storableJson(value: unknown, depth = 0): { value: unknown; changed: boolean } {
  if (value === null || typeof value === 'boolean') return { value, changed: false };
  if (typeof value === 'number') {
    return Number.isFinite(value) ? { value, changed: false } : { value: null, changed: true };
  }
  if (typeof value === 'string') {
    const clean = storableText(value);
    return { value: clean, changed: clean !== value };
  }
  if (typeof value !== 'object' || depth >= MAX_JSON_DEPTH)
    return { value: null, changed: value !== undefined };
  let changed = false;
  if (Array.isArray(value)) {
    const out = value.map((v) => {
      const r = storableJson(v, depth + 1);
      changed ||= r.changed;
      return r.value;
    });
    return { value: out, changed };
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return { value: null, changed: true };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    const key = storableText(k);
    const r = storableJson(v, depth + 1);
    changed ||= r.changed || key !== k;
    out[key] = r.value;
  }
  return { value: out, changed };
}

/** `s` with NUL and unpaired surrogates replaced by U+FFFD (what a text or jsonb column can hold). */
export function storableText(s: string): string {
  if (!hasNul(s) && !UNPAIRED_SURROGATE.test(s)) return s;
  return s.replaceAll('\u0000', '\uFFFD').replace(new RegExp(UNPAIRED_SURROGATE.source, 'g'), '\uFFFD');
}

/** A JSON object the store can hold as jsonb (see {@link jsonProblem}). */
export const StorableJsonObject = z.record(z.string(), z.unknown()).superRefine((v, ctx) => {
  const problem = jsonProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** Edge, stream and run ids: the one id rule (ids.ts). */
const id = IdSchema;
/** A time in ms since the epoch, within what a Date (and a timestamptz column) holds. */
const ms = z.number().int().nonnegative().max(MAX_TIME_MS);
/** A track id: the store keeps it as int4. */
const trackId = int4.nonnegative();
/** Binary (msgpack bin decodes to Uint8Array; Buffers are Uint8Arrays too). */
const bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected binary bytes');

/**
 * Live counters of one stream (what `EdgeRuntime.stats()` returns). What an edge reports about itself (hello,
 * heartbeat) is not refused for text the store cannot hold (a NUL in a source): the hub stores a copy made
 * storable with {@link storableJson}, so such a report never cuts the edge off from the hub that could fix it.
 */
export const StreamStatusSchema = z.strictObject({
  streamId: z.string().min(1).max(64),
  source: z.string().max(2048),
  state: z.enum(['starting', 'running', 'reconnecting', 'ended', 'failed', 'stopped']),
  framesDecoded: z.number().int().nonnegative(),
  framesInferred: z.number().int().nonnegative(),
  droppedOverflow: z.number().int().nonnegative(),
  droppedStale: z.number().int().nonnegative(),
  inferErrors: z.number().int().nonnegative().default(0),
  fps: z.number().nonnegative(),
  latencyP50Ms: z.number().nonnegative(),
  latencyP95Ms: z.number().nonnegative(),
  activeTracks: z.number().int().nonnegative(),
  reconnects: z.number().int().nonnegative(),
  /** The video as the edge publishes it over WebRTC (docs/webrtc.md); absent before the source opened. */
  video: z
    .strictObject({
      codec: z.string().min(1).max(64),
      profileLevelId: z
        .string()
        .regex(/^[0-9a-f]{6}$/)
        .optional(),
      transcoded: z.boolean(),
      note: z.string().max(500).optional(),
    })
    .optional(),
  /** The decoder in use, e.g. "h264 (software)" or "h264 (cuda)" (decoder.hwaccel); absent before the source opened. */
  decoder: z.string().max(128).optional(),
  lastError: z.string().max(2048).optional(),
});
export type StreamStatus = z.infer<typeof StreamStatusSchema>;

/** Machine load an edge reports with each heartbeat. */
export const EdgeLoadSchema = z.strictObject({
  /** 1-minute load average divided by the core count. */
  cpu: z.number().nonnegative(),
  rssMb: z.number().nonnegative(),
  /** Batches waiting in the outbox (not yet acked). */
  outboxMessages: z.number().int().nonnegative(),
  /** Batches the outbox dropped (oldest first) because its bound was hit, since the edge started. */
  outboxDropped: z.number().int().nonnegative(),
});
export type EdgeLoad = z.infer<typeof EdgeLoadSchema>;

/** First message after connecting. */
export const HelloSchema = z.strictObject({
  t: z.literal('hello'),
  protocol: z.number().int(),
  edgeId: id,
  run: id,
  version: z.string().max(64),
  model: z.string().max(128),
  provider: z.string().max(64),
  /** The edge's effective config (as JSON), so the hub can show it and diff pushed changes. */
  config: z.record(z.string(), z.unknown()).optional(),
  streams: z.array(StreamStatusSchema).max(UPLINK_MAX_STREAMS),
});
export type Hello = z.infer<typeof HelloSchema>;

/** Live status, every few seconds; not stored in the outbox, not acked. */
export const HeartbeatSchema = z.strictObject({
  t: z.literal('heartbeat'),
  load: EdgeLoadSchema,
  streams: z.array(StreamStatusSchema).max(UPLINK_MAX_STREAMS),
});
export type Heartbeat = z.infer<typeof HeartbeatSchema>;

/** One track's box at one moment: `[trackId, tsMs, x1, y1, x2, y2, score]` (compact: most of the traffic). */
export const PointSchema = z.tuple([trackId, ms, float4, float4, float4, float4, float4]);
export type Point = z.infer<typeof PointSchema>;

/** One label a classifier gave a track's crop (stage "classify"). */
export const ClassLabelSchema = z.strictObject({
  classId: int4,
  label: pgText(128),
  score: z.number().min(0).max(1),
});

/** A track as of this batch: merged on the hub (first seen min, last seen max, best thumbnail). */
export const TrackSummarySchema = z.strictObject({
  trackId,
  label: pgText(64),
  classId: int4,
  firstSeen: ms,
  lastSeen: ms,
  /** sha256 (hex) of this track's best thumbnail so far, sent in `thumbnails` of this or an earlier batch. */
  thumbnail: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  /** Quality of that thumbnail (higher is better). */
  thumbnailScore: float4.optional(),
  /** The labels its crop was classified with last (stage "classify"), best first. */
  classes: z.array(ClassLabelSchema).max(10).optional(),
});
export type TrackSummary = z.infer<typeof TrackSummarySchema>;

/** A JPEG crop, content-addressed by the sha256 of its bytes. */
export const ThumbnailSchema = z.strictObject({
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  jpeg: bytes.refine((b) => b.length > 0 && b.length <= THUMBNAIL_MAX_BYTES, 'JPEG of 1..1 MiB'),
});
export type Thumbnail = z.infer<typeof ThumbnailSchema>;

/** An appearance embedding of a track (float32 little-endian bytes, L2-normalised). */
export const EmbeddingSchema = z.strictObject({
  trackId,
  ts: ms,
  model: pgText(128, 1),
  vector: bytes.refine((b) => b.length % 4 === 0 && b.length <= 4 * EMBEDDING_MAX_DIMS, 'float32 bytes'),
});
export type EmbeddingMsg = z.infer<typeof EmbeddingSchema>;

/** Something that happened (stream state change, line crossing, ...). */
export const EventSchema = z.strictObject({
  kind: pgText(64, 1),
  ts: ms,
  /** Stored as jsonb: JSON values only, no NUL (see {@link jsonProblem}). */
  data: StorableJsonObject.optional(),
});
export type EventMsg = z.infer<typeof EventSchema>;

/** Everything one stream produced over one batching window; acked by `(streamId, run, seq)`. */
export const BatchSchema = z.strictObject({
  t: z.literal('batch'),
  streamId: id,
  run: id,
  /** 1, 2, 3, ... per (stream, run). */
  seq: z.number().int().positive(),
  points: z.array(PointSchema).max(BATCH_LIMITS.points),
  tracks: z.array(TrackSummarySchema).max(BATCH_LIMITS.tracks),
  thumbnails: z.array(ThumbnailSchema).max(BATCH_LIMITS.thumbnails),
  embeddings: z.array(EmbeddingSchema).max(BATCH_LIMITS.embeddings),
  events: z.array(EventSchema).max(BATCH_LIMITS.events),
});
export type Batch = z.infer<typeof BatchSchema>;

/** Operations the hub can ask an edge to do. */
export const CommandOpSchema = z.enum([
  'addStream',
  'removeStream',
  'startStream',
  'stopStream',
  'applyConfig',
]);
export type CommandOp = z.infer<typeof CommandOpSchema>;

/** Hub -> edge: do something, answer with a `result` of the same id. */
export const CommandSchema = z.strictObject({
  t: z.literal('command'),
  id: z.string().min(1).max(64),
  op: CommandOpSchema,
  /** addStream: a StreamConfig; remove/start/stopStream: { streamId }; applyConfig: a partial EdgeConfig. */
  args: z.record(z.string(), z.unknown()),
});
export type Command = z.infer<typeof CommandSchema>;

/** Edge -> hub: how a command went. */
export const CommandResultSchema = z.strictObject({
  t: z.literal('result'),
  id: z.string().min(1).max(64),
  ok: z.boolean(),
  error: z.strictObject({ code: z.string().max(64), message: z.string().max(4096) }).optional(),
  data: z.record(z.string(), z.unknown()).optional(),
});
export type CommandResult = z.infer<typeof CommandResultSchema>;

/** Every message an edge may send. */
export const EdgeMessageSchema = z.discriminatedUnion('t', [
  HelloSchema,
  HeartbeatSchema,
  BatchSchema,
  CommandResultSchema,
  InferRequestSchema,
]);
export type EdgeMessage = z.infer<typeof EdgeMessageSchema>;

/**
 * Hub -> edge messages. Parsed by the edge on receipt; plain (not strict) objects, so a newer hub may add fields an
 * older edge ignores.
 */

/** Hub -> edge: the hello was accepted. */
export const WelcomeSchema = z.object({
  t: z.literal('welcome'),
  protocol: z.number(),
  /** Heartbeat period the hub expects (ms). */
  heartbeatMs: z.number(),
});
export type Welcome = z.infer<typeof WelcomeSchema>;

/** Hub -> edge: batch `(streamId, run, seq)` is stored. */
export const AckSchema = z.object({
  t: z.literal('ack'),
  streamId: z.string(),
  run: z.string(),
  seq: z.number(),
});
export type Ack = z.infer<typeof AckSchema>;

/** Hub -> edge: a message was refused; fatal ones are followed by a close. */
export const UplinkErrorSchema = z.object({
  t: z.literal('error'),
  code: z.string(),
  message: z.string(),
  /**
   * Set when the refused message was a batch whose content can never be stored (malformed): the edge drops it
   * from its outbox and counts it as rejected. Store outages (code STORE_UNAVAILABLE) and other failures to
   * store (STORE_FAILED) carry no seq: "not stored, retry"; the hub closes the connection and the edge replays
   * everything unacked on its next one. seq, streamId and run are echoed from the refused message as they came.
   */
  seq: z.number().optional(),
  streamId: z.string().optional(),
  run: z.string().optional(),
});
export type UplinkError = z.infer<typeof UplinkErrorSchema>;

/** Every message the hub may send. */
export const HubMessageSchema = z.discriminatedUnion('t', [
  WelcomeSchema,
  AckSchema,
  CommandSchema,
  UplinkErrorSchema,
  InferredSchema,
]);
export type HubMessage = z.infer<typeof HubMessageSchema>;
