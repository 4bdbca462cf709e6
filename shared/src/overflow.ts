/**
 * The overflow path: frames an edge cannot infer in time go to GPU workers through the hub.
 *
 * Edge -> hub (over the uplink WebSocket, msgpack, never through the outbox): `infer`, a batch of prepared frames
 * with a deadline. Hub -> edge: `inferred`, exactly one per `infer` id (results, or why there are none: shed,
 * expired, failed). The hub puts each request on a Redis Stream per model (`<prefix>overflow:<model>`, consumer
 * group `workers`); `sightline worker` processes read it, run the same inference engine as the edge, and add the
 * answer to the asking hub's results stream (`<prefix>results:<hubId>`), which the hub relays to the edge.
 * Delivery to workers is at-least-once (a dead worker's entries are reclaimed), so an edge may see an id twice:
 * it applies the first and ignores the rest.
 */
import { z } from 'zod';
import { IdSchema } from './ids.ts';

/** Key prefix of every Redis key Sightline uses, unless configured (`redis.prefix`). */
export const REDIS_PREFIX_DEFAULT = 'sightline:';
/** Consumer group of the workers on every model stream. */
export const OVERFLOW_GROUP = 'workers';
/** Most frames one `infer` request may carry. */
export const OVERFLOW_MAX_FRAMES = 64;
/** Largest frame payload (bytes): a 1280x1280 BGR24 frame. */
export const OVERFLOW_MAX_FRAME_BYTES = 1280 * 1280 * 3;

/**
 * Fields of one request entry on a model stream (values are Buffers): `hub` (the asking hub's id, where the
 * answer goes), `edge` (the asking edge), `at` (epoch ms it was queued) and `req` (the edge's InferRequest, msgpack).
 * One entry of a results stream: `edge` and `answer` (the Inferred message, msgpack).
 */
export const OVERFLOW_ENTRY_FIELDS = {
  hub: 'hub',
  edge: 'edge',
  at: 'at',
  req: 'req',
  answer: 'answer',
} as const;

/** Redis key names under a prefix. */
export const overflowKeys = (prefix: string = REDIS_PREFIX_DEFAULT) => ({
  /** Stream of requests for one model. */
  requests: (model: string) => `${prefix}overflow:${model}`,
  /** Stream of answers for one hub. */
  results: (hubId: string) => `${prefix}results:${hubId}`,
  /** One worker's registration (JSON WorkerInfo, expires when its heartbeats stop). */
  worker: (workerId: string) => `${prefix}worker:${workerId}`,
  /** Sorted set of worker ids by last heartbeat. */
  workers: `${prefix}workers`,
});

const bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected binary bytes');
const dim = z.number().int().min(1).max(8192);
const finite = z.number().finite();

/**
 * How a frame's pixels travel: 'raw', packed BGR24 as the edge decoded them (fitted to the model's input), or
 * 'jpeg', a JPEG of those same bytes (smaller, lossy; encoded and decoded as three plain channels, so the order
 * stays BGR).
 */
export const FrameEncodingSchema = z.enum(['raw', 'jpeg']);
export type FrameEncoding = z.infer<typeof FrameEncodingSchema>;

/** One prepared frame (already scaled to the model's input size, as the edge's sources deliver them). */
export const OffloadFrameSchema = z.strictObject({
  streamId: IdSchema,
  seq: z.number().int().nonnegative(),
  encoding: FrameEncodingSchema,
  width: dim,
  height: dim,
  /** The source frame the boxes are reported in. */
  sourceWidth: dim,
  sourceHeight: dim,
  data: bytes.refine((b) => b.length > 0 && b.length <= OVERFLOW_MAX_FRAME_BYTES, 'frame bytes out of range'),
});
export type OffloadFrame = z.infer<typeof OffloadFrameSchema>;

/** Decode thresholds the worker applies (the edge's current ones). */
export const OffloadDecodeSchema = z.strictObject({
  confidence: z.number().min(0).max(1),
  iou: z.number().min(0).max(1),
  classes: z.array(z.string().max(64)).max(1000).optional(),
});

/** Edge -> hub: infer these frames with `model` within `budgetMs`. */
export const InferRequestSchema = z.strictObject({
  t: z.literal('infer'),
  /** Unique per edge process; echoed in the answer. */
  id: z.string().min(1).max(64),
  /** Model name (manifest key), e.g. "yolox_nano". */
  model: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'a model name'),
  /** sha256 (hex) of the edge's .onnx file: a worker with another file refuses rather than answer wrongly. */
  modelSha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  /**
   * How long after sending an answer is still useful (ms): the hub's queue time `at` plus this is the entry's
   * deadline on the hub's and workers' clock (no edge clock is compared with theirs). The edge drops a later answer.
   */
  budgetMs: z.number().int().min(0).max(600_000),
  decode: OffloadDecodeSchema,
  frames: z.array(OffloadFrameSchema).min(1).max(OVERFLOW_MAX_FRAMES),
});
export type InferRequest = z.infer<typeof InferRequestSchema>;

const box = z.tuple([finite, finite, finite, finite]);
/** A detection as a worker returns it (source-frame pixels). */
export const WireDetectionSchema = z.strictObject({
  box,
  score: finite,
  classId: z.number().int().nonnegative(),
  label: z.string().max(64),
  mask: z.strictObject({ box, w: dim, h: dim, counts: z.array(z.number().int().nonnegative()) }).optional(),
});

/** One frame's answer, in the order of the request's frames. */
export const OffloadResultSchema = z.strictObject({
  detections: z.array(WireDetectionSchema).max(10_000),
  preprocessMs: finite,
  inferMs: finite,
  postprocessMs: finite,
  /** Frames in the model call this frame ran in (entries of several edges may share one). */
  batchSize: z.number().int().positive(),
});
export type OffloadResult = z.infer<typeof OffloadResultSchema>;

/** Why an `infer` got no results. */
export const OFFLOAD_FAILURES = {
  /** No worker serves the model, every worker is full, or the queue is at its cap: try locally. */
  SHED: 'OVERFLOW_SHED',
  /** The hub has no Redis, or lost it. */
  UNAVAILABLE: 'OVERFLOW_UNAVAILABLE',
  /** The budget ran out before a worker took the request. */
  EXPIRED: 'OVERFLOW_EXPIRED',
  /** The worker could not run it (bad entry, model mismatch, inference error). */
  FAILED: 'OVERFLOW_FAILED',
} as const;

/** Hub -> edge: the answer to one `infer` (exactly one per id, possibly repeated after a worker was replaced). */
export const InferredSchema = z.object({
  t: z.literal('inferred'),
  id: z.string(),
  ok: z.boolean(),
  results: z.array(OffloadResultSchema).optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  /** The worker that ran it. */
  worker: z.string().optional(),
  /** ms the request waited in the queue before a worker took it. */
  queuedMs: z.number().optional(),
});
export type Inferred = z.infer<typeof InferredSchema>;

/** What a worker publishes about itself with every heartbeat. */
export const WorkerInfoSchema = z.object({
  id: IdSchema,
  host: z.string(),
  pid: z.number().int(),
  /** Models it consumes. */
  models: z.array(z.string()),
  /** Execution provider it runs on. */
  provider: z.string(),
  /** Largest batch of one model call. */
  maxBatch: z.number().int().positive(),
  /** Frames per second it measured it can do (best recent second, or tuned). */
  capacityFps: z.number().nonnegative(),
  /** Frames per second it did over the last heartbeat period. */
  rateFps: z.number().nonnegative(),
  /** Frames taken and not yet answered. */
  inFlight: z.number().int().nonnegative(),
  /** Totals since start. */
  processed: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  malformed: z.number().int().nonnegative(),
  startedAt: z.number(),
  heartbeatAt: z.number(),
});
export type WorkerInfo = z.infer<typeof WorkerInfoSchema>;
