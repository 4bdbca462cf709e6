/**
 * The edge -> hub uplink protocol: one WebSocket per edge at `/api/v1/uplink`, authenticated with the edge's
 * credential (`Authorization: Bearer <token>`), carrying binary msgpack frames, one message per frame.
 *
 * Edge -> hub: `hello` first, then `batch` (numbered per stream and run, acknowledged by the hub once stored),
 * `heartbeat` (live status, not acknowledged), and `result` answers to the hub's `command`s.
 * Hub -> edge: `welcome` (answer to hello), `ack`, `command`, `error`.
 *
 * Delivery is at-least-once: the edge keeps every batch in its on-disk outbox until acked and replays unacked
 * ones after a reconnect; the hub stores `(edgeId, streamId, run, seq)` idempotently, so a replay adds nothing.
 * `run` is an id the edge picks once per process start: sequence numbers restart at 1 with it.
 */
import { z } from 'zod';

/** Uplink protocol version; the hub refuses a hello with another major version. */
export const UPLINK_PROTOCOL = 1;
/** Path of the uplink WebSocket on the hub. */
export const UPLINK_PATH = '/api/v1/uplink';
/** Largest uplink frame the hub accepts (bytes). */
export const UPLINK_MAX_FRAME_BYTES = 8 << 20;

const id = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only');
const ms = z.number().int().nonnegative();
/** Binary (msgpack bin decodes to Uint8Array; Buffers are Uint8Arrays too). */
const bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected binary bytes');

/** Live counters of one stream (what `EdgeRuntime.stats()` returns). */
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
  streams: z.array(StreamStatusSchema).max(256),
});
export type Hello = z.infer<typeof HelloSchema>;

/** Live status, every few seconds; not stored in the outbox, not acked. */
export const HeartbeatSchema = z.strictObject({
  t: z.literal('heartbeat'),
  load: EdgeLoadSchema,
  streams: z.array(StreamStatusSchema).max(256),
});
export type Heartbeat = z.infer<typeof HeartbeatSchema>;

/** One track's box at one moment: `[trackId, tsMs, x1, y1, x2, y2, score]` (compact: most of the traffic). */
export const PointSchema = z.tuple([
  z.number().int().nonnegative(),
  ms,
  z.number(),
  z.number(),
  z.number(),
  z.number(),
  z.number(),
]);
export type Point = z.infer<typeof PointSchema>;

/** A track as of this batch: merged on the hub (first seen min, last seen max, best thumbnail). */
export const TrackSummarySchema = z.strictObject({
  trackId: z.number().int().nonnegative(),
  label: z.string().max(64),
  classId: z.number().int(),
  firstSeen: ms,
  lastSeen: ms,
  /** sha256 (hex) of this track's best thumbnail so far, sent in `thumbnails` of this or an earlier batch. */
  thumbnail: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  /** Quality of that thumbnail (higher is better). */
  thumbnailScore: z.number().optional(),
});
export type TrackSummary = z.infer<typeof TrackSummarySchema>;

/** A JPEG crop, content-addressed by the sha256 of its bytes. */
export const ThumbnailSchema = z.strictObject({
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  jpeg: bytes.refine((b) => b.length > 0 && b.length <= 1 << 20, 'JPEG of 1..1 MiB'),
});
export type Thumbnail = z.infer<typeof ThumbnailSchema>;

/** An appearance embedding of a track (float32 little-endian bytes, L2-normalised). */
export const EmbeddingSchema = z.strictObject({
  trackId: z.number().int().nonnegative(),
  ts: ms,
  model: z.string().min(1).max(128),
  vector: bytes.refine((b) => b.length % 4 === 0 && b.length <= 4 * 4096, 'float32 bytes'),
});
export type EmbeddingMsg = z.infer<typeof EmbeddingSchema>;

/** Something that happened (stream state change, line crossing, ...). */
export const EventSchema = z.strictObject({
  kind: z.string().min(1).max(64),
  ts: ms,
  data: z.record(z.string(), z.unknown()).optional(),
});
export type EventMsg = z.infer<typeof EventSchema>;

/** Everything one stream produced over one batching window; acked by `(streamId, run, seq)`. */
export const BatchSchema = z.strictObject({
  t: z.literal('batch'),
  streamId: id,
  run: id,
  /** 1, 2, 3, ... per (stream, run). */
  seq: z.number().int().positive(),
  points: z.array(PointSchema).max(100_000),
  tracks: z.array(TrackSummarySchema).max(10_000),
  thumbnails: z.array(ThumbnailSchema).max(256),
  embeddings: z.array(EmbeddingSchema).max(1024),
  events: z.array(EventSchema).max(1024),
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
]);
export type EdgeMessage = z.infer<typeof EdgeMessageSchema>;

/** Hub -> edge: the hello was accepted. */
export interface Welcome {
  t: 'welcome';
  protocol: number;
  /** Heartbeat period the hub expects (ms). */
  heartbeatMs: number;
}
/** Hub -> edge: batch `(streamId, run, seq)` is stored. */
export interface Ack {
  t: 'ack';
  streamId: string;
  run: string;
  seq: number;
}
/** Hub -> edge: a message was refused; fatal ones are followed by a close. */
export interface UplinkError {
  t: 'error';
  code: string;
  message: string;
  /**
   * Set when the refused message was a batch whose content can never be stored (malformed): the edge drops it
   * from its outbox and counts it as rejected. Store outages (code STORE_UNAVAILABLE) and other failures to
   * store (STORE_FAILED) carry no seq: "not stored, retry"; the hub closes the connection and the edge replays
   * everything unacked on its next one.
   */
  seq?: number;
  streamId?: string;
  run?: string;
}
/** Every message the hub may send. */
export type HubMessage = Welcome | Ack | Command | UplinkError;
