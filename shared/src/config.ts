/** Edge configuration: the zod schema (every field documented with its default) and the file loader. */

import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { redactSubstituted, substitutedSourceIssues, substituteEnv } from './config-env.ts';
import { HWACCELS } from './decoder.ts';
import { ConfigError } from './errors.ts';
import { IdSchema } from './ids.ts';
import {
  ClassifyConfig,
  EnhanceConfig,
  resolveStages,
  SegmentConfig,
  StageList,
  stageListIssues,
} from './stages-config.ts';
import { hasNul, NUL_MESSAGE } from './uplink.ts';

/** Edge and stream ids: the wire's one id rule (ids.ts). */
const streamId = IdSchema;

export const StreamConfig = z.strictObject({
  /** Stream id, unique on this edge. Default: cam1, cam2, ... in order. */
  id: streamId.optional(),
  /** A file path, file:// URL, rtsp:// or rtsps:// URL, http(s):// URL, or whip://<id> (a WHIP-published camera). */
  source: z
    .string()
    .min(1)
    .refine((s) => !hasNul(s), NUL_MESSAGE),
  /** Restart a file source at its end. Default false. */
  loop: z.boolean().default(false),
  /** Pace file sources at their native frame rate, as a camera would. Default true. */
  realtime: z.boolean().default(true),
  /** Frames older than this when their turn comes are dropped (and counted). Default 1000 ms. */
  stalenessMs: z.number().int().positive().default(1000),
  /** Stop the stream (state 'ended') once this many frames were decoded; counts across loops. Default: no limit. */
  maxFrames: z.number().int().positive().optional(),
  /** Its stages in order, e.g. `[detect, classify]` or `detect -> classify` (docs/stages.md). Default: detect plus every configured stage. */
  stages: StageList.optional(),
});
export type StreamConfig = z.infer<typeof StreamConfig>;
export type StreamConfigInput = z.input<typeof StreamConfig>;

/** The source schemes an edge knows; "file" also stands for a plain path. */
export const SOURCE_SCHEMES = ['file', 'rtsp', 'rtsps', 'http', 'https', 'whip'] as const;
export type SourceScheme = (typeof SOURCE_SCHEMES)[number];

/**
 * Which sources this edge opens (docs/operations.md, "Source policy"). The schemes apply to every stream; the
 * local roots to streams added or changed at run time (the hub's API), while the streams of the config file and
 * of --source as the edge started are the operator's own and may name any local file.
 */
export const SourcesConfig = z.strictObject({
  /** Source schemes streams may use ("file" also covers plain paths); others are refused. Default: all six. */
  schemes: z
    .array(z.enum(SOURCE_SCHEMES))
    .min(1, 'at least one scheme')
    .default([...SOURCE_SCHEMES]),
  /**
   * Folders that local files of streams added at run time must lie in once symlinks and `..` are resolved
   * (relative folders: from the working directory); [] refuses every such file. Default: the media folder
   * ($SIGHTLINE_MEDIA_DIR, else media/cache).
   */
  localRoots: z.array(z.string().min(1)).optional(),
});
export type SourcesConfig = z.infer<typeof SourcesConfig>;

export const DetectorConfig = z.strictObject({
  /** Model id from models/manifest.json. Default yolox_nano. */
  model: z.string().min(1).default('yolox_nano'),
  /** Minimum score kept. Default 0.5 (the original design's conf). */
  confidence: z.number().min(0).max(1).default(0.5),
  /** IoU above which NMS suppresses a same-class box. Default 0.45. */
  iou: z.number().min(0).max(1).default(0.45),
  /** Keep only these class labels (e.g. ["person"]). Default: all classes. */
  classes: z.array(z.string().min(1)).optional(),
});

export const ExecutionProvider = z.enum(['tensorrt', 'cuda', 'cpu']);
export type ExecutionProvider = z.infer<typeof ExecutionProvider>;

export const InferenceConfig = z.strictObject({
  /** Execution providers tried in order; a missing one is skipped with a log line. Default ["cpu"]. */
  providers: z.array(ExecutionProvider).min(1).default(['cpu']),
  /** Sessions in the pool, each in its own worker thread. Default 2. */
  sessions: z.number().int().min(1).max(64).default(2),
  /** ONNX Runtime intra-op threads per session. Default 1. */
  intraOpThreads: z.number().int().min(1).max(64).default(1),
  /** Let intra-op threads spin while waiting (fast on idle machines, noisy on shared ones). Default false. */
  spinning: z.boolean().default(false),
  /** Frames per batch for models with a dynamic batch (static-batch models get 1). Default 16. */
  batchSize: z.number().int().min(1).max(64).default(16),
  /** Longest a partial batch waits to fill before it is sent. Default 5 ms. */
  maxWaitMs: z.number().min(0).max(1000).default(5),
  /** Requests queued per session so it never idles between batches. Default 2. */
  inflightPerSession: z.number().int().min(1).max(8).default(2),
  /** A session holding requests that answers none for this long is hung: they fail (INFERENCE_TIMEOUT), its worker restarts. A TensorRT session's first run (engine build) is exempt. Default 10000 ms. */
  requestTimeoutMs: z.number().int().positive().default(10_000),
  /** TensorRT engine cache directory. Default <data dir>/trt-cache. */
  trtCacheDir: z.string().optional(),
  /** Use FP16 in TensorRT. Default true. */
  trtFp16: z.boolean().default(true),
});
export type InferenceConfig = z.infer<typeof InferenceConfig>;

export const DecoderConfig = z.strictObject({
  /** node-av (in-process FFmpeg libraries, default) or ffmpeg (a system ffmpeg subprocess). */
  backend: z.enum(['node-av', 'ffmpeg']).default('node-av'),
  /** ffmpeg executable for the ffmpeg backend. Default "ffmpeg". */
  ffmpegPath: z.string().default('ffmpeg'),
  /** Decoder threads per stream (0 = FFmpeg decides). Default 1. */
  threads: z.number().int().min(0).max(16).default(1),
  /**
   * Hardware decoding, both backends (docs/decoding.md): auto (cuda then vaapi on Linux, videotoolbox on macOS),
   * cuda (NVDEC), vaapi, videotoolbox, or none. A device that cannot be opened, or has no decoder for the codec,
   * means software decoding and one log line saying why. Default none (software; GPU decoding is not verified yet).
   */
  hwaccel: z.enum(HWACCELS).default('none'),
  /** The hwaccel device: a CUDA GPU index ("1") or a VA-API render node ("/dev/dri/renderD129"). Default: FFmpeg's choice. */
  hwaccelDevice: z.string().min(1).optional(),
});

export const ByteTrackConfig = z.strictObject({
  type: z.literal('bytetrack'),
  /** Detections at or above this score take part in the first association. Default 0.5. */
  highThreshold: z.number().min(0).max(1).default(0.5),
  /** Detections between this and highThreshold take part in the second association. Default 0.1. */
  lowThreshold: z.number().min(0).max(1).default(0.1),
  /** Unmatched high detections at or above this start a new track. Default 0.7. */
  newTrackThreshold: z.number().min(0).max(1).default(0.7),
  /** Minimum IoU for a first-stage match. Default 0.2. */
  matchIou: z.number().min(0).max(1).default(0.2),
  /** Frames a lost track is kept before removal. Default 30 (the original design's max_age). */
  maxAge: z.number().int().min(1).default(30),
  /** Matched frames before a track is confirmed. Default 3. */
  minHits: z.number().int().min(1).default(3),
});

export const DeepSortConfig = z.strictObject({
  type: z.literal('deepsort'),
  /** Detections below this score are ignored. Default 0.3 (DeepSORT's min_confidence). */
  minScore: z.number().min(0).max(1).default(0.3),
  /** Unmatched detections at or above this start a new track. Default 0.7. */
  newTrackThreshold: z.number().min(0).max(1).default(0.7),
  /** Largest cosine distance (1 - cosine similarity) of an appearance match. Default 0.4 (OSNet: same person about 0.1, others about 0.55). */
  maxCosineDistance: z.number().min(0).max(2).default(0.4),
  /** Embeddings kept per track (the gallery); the oldest goes when full. Default 100 (DeepSORT's nn_budget). */
  budget: z.number().int().min(1).max(10000).default(100),
  /** Minimum IoU of a motion-only match (the fallback when appearance is missing or too far). Default 0.2. */
  matchIou: z.number().min(0).max(1).default(0.2),
  /** Frames a lost track is kept before removal. Default 30 (the original design's max_age). */
  maxAge: z.number().int().min(1).default(30),
  /** Matched frames before a track is confirmed. Default 3. */
  minHits: z.number().int().min(1).default(3),
  /** A track matched by motion alone gets a fresh embedding every this many frames. Default 10. */
  embedEvery: z.number().int().min(1).default(10),
});

export const TrackerConfig = z.discriminatedUnion('type', [ByteTrackConfig, DeepSortConfig]);
export type TrackerConfig = z.infer<typeof TrackerConfig>;

export const ReidConfig = z.strictObject({
  /** Compute embeddings for the deepsort tracker (ByteTrack uses none). Default true. */
  enabled: z.boolean().default(true),
  /** Re-ID model id from models/manifest.json. Default osnet_x0_25_msmt17. */
  model: z.string().min(1).default('osnet_x0_25_msmt17'),
  /** Only these class labels get embeddings. Default ["person"] (the models are person re-ID). */
  classes: z.array(z.string().min(1)).min(1).default(['person']),
  /** Crops shorter than this many source pixels get no embedding (too few pixels to tell people apart). Default 32. */
  minHeight: z.number().int().min(1).default(32),
  /** With re-ID on, frames are decoded at most this many pixels tall (never upscaled) so crops keep detail. Default 720. */
  frameHeight: z.number().int().min(64).max(4320).default(720),
  /** Crops per model call, across all streams (dynamic-batch models; others run one by one). Default 32. */
  batchSize: z.number().int().min(1).max(64).default(32),
  /** Sessions (worker threads) running the re-ID model. Default 1. */
  sessions: z.number().int().min(1).max(16).default(1),
});
export type ReidConfig = z.infer<typeof ReidConfig>;

export const SinkConfig = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('jsonl'),
    /** Output file; one JSON object per frame. */
    path: z.string().min(1),
  }),
  z.strictObject({
    type: z.literal('mot'),
    /** Output directory; one MOTChallenge text file per stream (<streamId>.txt). */
    dir: z.string().min(1),
  }),
]);
export type SinkConfig = z.infer<typeof SinkConfig>;

export const ThumbnailConfig = z.strictObject({
  /** Cut JPEG thumbnails of confirmed tracks (the best view of each track so far). Default true. */
  enabled: z.boolean().default(true),
  /** Consider one frame in this many per stream. Default 5. */
  every: z.number().int().min(1).max(1000).default(5),
  /** Boxes shorter than this many source-frame pixels get no thumbnail. Default 48. */
  minHeight: z.number().int().min(1).default(48),
  /** Thumbnails are scaled down to fit this many pixels on their longer side (never upscaled). Default 256. */
  maxSide: z.number().int().min(16).max(4096).default(256),
  /** JPEG quality 1..100. Default 80. */
  quality: z.number().int().min(1).max(100).default(80),
});
export type ThumbnailConfig = z.infer<typeof ThumbnailConfig>;

export const MetricsConfig = z.strictObject({
  /** Serve Prometheus metrics (GET /metrics, GET /health) on this TCP port; 0 picks a free one. Default: no server. */
  port: z.number().int().min(0).max(65535).optional(),
  /** Address the metrics server listens on. Default 127.0.0.1 (this host only). */
  host: z.string().min(1).default('127.0.0.1'),
});
export type MetricsConfig = z.infer<typeof MetricsConfig>;

const token = z.string().regex(/^slt_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/, 'a Sightline token (slt_...)');

export const HubLinkConfig = z.strictObject({
  /** Hub base URL, e.g. http://127.0.0.1:8080 (http, https, ws or wss). */
  url: z.url({ protocol: /^(https?|wss?)$/ }),
  /**
   * PEM CA bundle trusted for an https:// hub's certificate instead of the system CAs: a private CA, or a
   * self-signed hub's certificate itself (docs/tls.md). Verification cannot be turned off. Default: the system CAs.
   */
  ca: z.string().min(1).optional(),
  /** This edge's credential. Default: the one saved in stateDir by an earlier enrollment. */
  token: token.optional(),
  /** One-time enrollment token from a hub admin, traded for the credential on first start. */
  enrollmentToken: token.optional(),
  /** Folder for the saved credential and the outbox of unacknowledged batches. Default ./edge-state. */
  stateDir: z.string().min(1).default('./edge-state'),
  /** Cut a batch of each stream this often (ms). Default 500. */
  flushMs: z.number().int().min(10).max(60_000).default(500),
  /** Most batches kept in the outbox while the hub is away; the oldest are dropped (and counted) beyond. Default 10000. */
  outboxMaxMessages: z.number().int().min(1).default(10_000),
  /** Most bytes kept in the outbox. Default 268435456 (256 MiB). */
  outboxMaxBytes: z
    .number()
    .int()
    .min(1024)
    .default(256 << 20),
  /**
   * When the uplink fsyncs (docs/hub.md): 'none' never; 'batch' each batch as it enters the outbox (a power cut
   * loses at most the open windows, up to flushMs); 'always' also every journal write (a power cut loses at most
   * the frames in flight). A crash of the process loses at most the frames in flight with any. Default 'none'.
   */
  fsync: z.enum(['none', 'batch', 'always']).default('none'),
});
export type HubLinkConfig = z.infer<typeof HubLinkConfig>;

/**
 * The overflow path (docs/overflow.md): frames local inference cannot take while they are still fresh go to the
 * hub's GPU workers. Each frame's deadline is its capture time plus its stream's stalenessMs.
 */
export const OverflowConfig = z.strictObject({
  /** Offload frames local inference cannot take (needs `hub`, and a hub with Redis and workers). Default false. */
  enabled: z.boolean().default(false),
  /**
   * How frames travel: 'raw' (BGR24 as decoded: the workers see what local inference would) or 'jpeg' (a tenth of
   * the bytes for links that need it, at some CPU and detections near the threshold: docs/overflow.md). Default 'raw'.
   */
  encoding: z.enum(['raw', 'jpeg']).default('raw'),
  /** JPEG quality of offloaded frames. Default 90. */
  jpegQuality: z.number().int().min(1).max(100).default(90),
  /** Requests sent to the hub and not answered yet, at most. Default 8. */
  maxInFlight: z.number().int().min(1).max(256).default(8),
  /** Frames in one request, at most. Default 8. */
  maxBatch: z.number().int().min(1).max(64).default(8),
  /** After the hub shed a request or could not take it, send nothing for this long (ms). Default 1000. */
  backoffMs: z.number().int().min(0).max(60_000).default(1000),
});
export type OverflowConfig = z.infer<typeof OverflowConfig>;

export const WebrtcConfig = z.strictObject({
  /** Publish every stream's video and per-frame metadata to the hub over WebRTC (needs `hub`; docs/webrtc.md). Default true. */
  enabled: z.boolean().default(true),
  /** Longest a frame's packets wait for its result before they leave with `skipped` metadata (ms). Default 500. */
  holdMs: z.number().int().min(0).max(5000).default(500),
  /** Most frames held per stream; beyond, the oldest leaves at once with `skipped` metadata (and is counted). Default 60. */
  maxHeldFrames: z.number().int().min(1).max(1000).default(60),
  /** Most RTP payload bytes per packet (larger NAL units are fragmented, FU-A). Default 1200. */
  mtu: z.number().int().min(200).max(1400).default(1200),
});
export type WebrtcConfig = z.infer<typeof WebrtcConfig>;

export const WhipConfig = z
  .strictObject({
    /** TCP port of the WHIP ingest server (POST /whip/<streamId>, docs/webrtc.md); 0 picks a free one. Default 8089. */
    port: z.number().int().min(0).max(65535).default(8089),
    /** Address it listens on. Default 127.0.0.1 (this host only); 0.0.0.0 to take cameras from other hosts. */
    host: z.string().min(1).default('127.0.0.1'),
    /** Bearer token publishers must send (at least 16 characters). Required unless allowAnonymous. */
    token: z.string().min(16, 'at least 16 characters').optional(),
    /** Accept publishers without a token (a trusted network only). Default false. */
    allowAnonymous: z.boolean().default(false),
    /** Most cameras published at once; more are refused (503). Default 8. */
    maxSessions: z.number().int().min(1).max(256).default(8),
  })
  .refine((w) => w.token !== undefined || w.allowAnonymous, {
    message: 'a token is required (or allowAnonymous: true)',
    path: ['token'],
  });
export type WhipConfig = z.infer<typeof WhipConfig>;

export const EdgeConfig = z.strictObject({
  /** This edge's id. Default: the host name. */
  edgeId: streamId.optional(),
  /** Directory holding model files. Default $MODELS_DIR or models/cache. */
  modelsDir: z.string().optional(),
  /** Streams to run. At least one, unless a hub or WHIP ingest can add them later. */
  streams: z.array(StreamConfig).default([]),
  /** Which source schemes and local folders streams may use. Default: every scheme; files from the hub only in the media folder. */
  sources: SourcesConfig.optional(),
  detector: DetectorConfig.default({ model: 'yolox_nano', confidence: 0.5, iou: 0.45 }),
  inference: InferenceConfig.default(InferenceConfig.parse({})),
  decoder: DecoderConfig.default(DecoderConfig.parse({})),
  /** Frames held per stream between decode and inference; the oldest is dropped when full. Default 30. */
  ringCapacity: z.number().int().min(1).max(1000).default(30),
  tracker: TrackerConfig.default(ByteTrackConfig.parse({ type: 'bytetrack' })),
  /** Appearance embeddings (re-ID) of detected objects. Default: on when the tracker is deepsort. */
  reid: ReidConfig.optional(),
  /** Classification of detection crops or whole frames (stage "classify"). Default: off. */
  classify: ClassifyConfig.optional(),
  /** Semantic segmentation of frames (stage "segment"). Default: off. */
  segment: SegmentConfig.optional(),
  /** Enhancement of the decoded frames before detection (stage "enhance"; node-av decoder). Default: off. */
  enhance: EnhanceConfig.optional(),
  sinks: z.array(SinkConfig).default([]),
  /** The hub this edge sends tracks, thumbnails, embeddings and heartbeats to, and takes commands from. Default: none. */
  hub: HubLinkConfig.optional(),
  /** Per-track JPEG thumbnails. Default: on, one frame in 5, boxes at least 48 px tall, 256 px, quality 80. */
  thumbnails: ThumbnailConfig.default(ThumbnailConfig.parse({})),
  /** Prometheus metrics server. Default: off (no server unless metrics.port is set). */
  metrics: MetricsConfig.optional(),
  /** Live video to the hub over WebRTC (with `hub` set). Default: on, 500 ms hold, 60 frames held, 1200-byte RTP payloads. */
  webrtc: WebrtcConfig.optional(),
  /** WHIP ingest: cameras published to this edge with WHIP become whip://<streamId> streams. Default: off. */
  whip: WhipConfig.optional(),
  /** Offload frames local inference cannot take in time to the hub's workers. Default: off. */
  overflow: OverflowConfig.optional(),
});
export type EdgeConfig = z.infer<typeof EdgeConfig>;
export type EdgeConfigInput = z.input<typeof EdgeConfig>;

/** Validate a plain object; throws ConfigError listing every bad field as "path: problem". */
export function parseEdgeConfig(input: unknown, origin = 'config'): EdgeConfig {
  // The config travels to the hub (hello, command results) and is stored there as jsonb: no NUL anywhere.
  const nul = nulPaths(input);
  if (nul.length > 0) {
    throw new ConfigError(
      `Invalid ${origin}`,
      nul.map((p) => `${p}: ${NUL_MESSAGE}`),
    );
  }
  const result = EdgeConfig.safeParse(input);
  if (!result.success) {
    // An unknown key is reported at its own path ("inference.thread: unknown field"), one line per key.
    const issues = result.error.issues.flatMap((i) =>
      i.code === 'unrecognized_keys'
        ? i.keys.map((k) => `${configPath([...i.path, k])}: unknown field`)
        : [`${configPath(i.path)}: ${i.message}`],
    );
    throw new ConfigError(`Invalid ${origin}`, issues);
  }
  const config = result.data;
  if (config.streams.length === 0 && !config.hub && !config.whip) {
    throw new ConfigError(`Invalid ${origin}`, [
      'streams: at least one stream is needed (or a hub or whip ingest that adds them)',
    ]);
  }
  if (config.overflow?.enabled && !config.hub) {
    throw new ConfigError(`Invalid ${origin}`, [
      'overflow.enabled: offloading needs a hub (set hub.url), whose workers take the frames',
    ]);
  }
  const seen = new Set<string>();
  const available = { ...config, reid: config.tracker.type === 'deepsort' && (config.reid?.enabled ?? true) };
  const stageIssues: string[] = [];
  config.streams.forEach((s, i) => {
    s.id ??= `cam${i + 1}`;
    if (seen.has(s.id))
      throw new ConfigError(`Invalid ${origin}`, [`streams.${i}.id: duplicate stream id "${s.id}"`]);
    seen.add(s.id);
    if (s.stages) stageIssues.push(...stageListIssues(s.stages, `streams.${i}.stages`, available));
    if (config.decoder.backend === 'ffmpeg' && resolveStages(s.stages, available).includes('enhance')) {
      stageIssues.push(
        `streams.${i}.stages: "enhance" runs in the node-av decoder; decoder.backend is ffmpeg`,
      );
    }
  });
  if (stageIssues.length) throw new ConfigError(`Invalid ${origin}`, stageIssues);
  return config;
}

/**
 * A field path as issues print it: `streams.0.source`; a key that is empty or holds anything but letters, digits,
 * `_` and `-` is quoted (`streams.0."a b"`, `""`), so every issue names its field visibly; `(root)` when empty.
 */
export function configPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  return path
    .map((k) =>
      typeof k === 'number' || /^[A-Za-z0-9_-]+$/.test(String(k)) ? String(k) : JSON.stringify(String(k)),
    )
    .join('.');
}

/** Paths of the strings (or keys) in `value` holding a NUL character; `(root)` for a bare string. */
function nulPaths(value: unknown, path: string[] = [], out: string[] = []): string[] {
  if (typeof value === 'string') {
    if (hasNul(value)) out.push(configPath(path));
  } else if (value !== null && typeof value === 'object' && path.length < 32) {
    for (const [k, v] of Object.entries(value)) {
      if (hasNul(k)) out.push(configPath([...path, k]));
      else nulPaths(v, [...path, k], out);
    }
  }
  return out;
}

/**
 * Read and validate a YAML or JSON config file. String values may use `${NAME}`, `${NAME:-default}` and `$${`
 * (a literal `${`), substituted from `env` after parsing (config-env.ts); errors never show a value that came
 * from a variable.
 */
export async function loadEdgeConfig(
  path: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<EdgeConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`Cannot read config file ${path}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(
      `Config file ${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`,
    );
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError(`Config file ${path} must hold an object with a "streams" list`);
  }
  const origin = `config file ${path}`;
  const subst = substituteEnv(data, env);
  const issues = [...subst.issues, ...substitutedSourceIssues(subst.substitutions)];
  if (issues.length) throw new ConfigError(`Invalid ${origin}`, issues);
  try {
    return parseEdgeConfig(subst.data, origin);
  } catch (err) {
    if (!(err instanceof ConfigError) || subst.substitutions.length === 0) throw err;
    throw new ConfigError(
      `Invalid ${origin}`,
      err.issues.map((i) => redactSubstituted(i, subst.substitutions)),
    );
  }
}
