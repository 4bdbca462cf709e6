/**
 * The live-video wire contracts (docs/webrtc.md): JSON text frames, one message per frame, each an object whose `t`
 * names its type (the uplink's discriminator, shared/src/uplink.ts). The receiving side parses every message with
 * these schemas.
 *
 * Edge <-> hub at MEDIA_EDGE_PATH (edge credential): `publish` -> `answer`, `unpublish`; `error` (the socket stays
 * open). Viewer <-> hub at MEDIA_VIEW_PATH: `auth` first, then `streams` (at once and on every change), `watch` ->
 * `offer`, `answer`, `unwatch`; `error`. The `meta` data channel, edge -> viewer through the SFU: one FrameMeta per
 * frame.
 *
 * Messages are plain (not strict) objects: a field a receiver does not know is ignored, so either side may add one.
 */
import { z } from 'zod';
import { IdSchema } from './ids.ts';

/** Where edges publish (WebSocket). */
export const MEDIA_EDGE_PATH = '/api/v1/media/edge';
/** Where viewers signal (WebSocket). */
export const MEDIA_VIEW_PATH = '/api/v1/media/view';
/** Largest signalling message handled (bytes): a bigger one gets BAD_MESSAGE. */
export const SIGNALLING_MAX_MESSAGE_BYTES = 128 * 1024;
/** Largest signalling frame a socket takes (bytes): beyond it the socket closes (1009). */
export const SIGNALLING_MAX_FRAME_BYTES = 1024 * 1024;

/** The video description an edge publishes with (kept as sent; viewers get it in `streams`). */
export const PublishedVideoSchema = z.looseObject({
  /** "h264" (what the hub can route). */
  codec: z.string().min(1).max(32),
  /** RFC 6184 profile-level-id of the published H.264 (from its SPS), e.g. "4d401f". */
  profileLevelId: z.string().max(16).optional(),
  width: z.number().int().positive().optional(),
  height: z.number().int().positive().optional(),
  fps: z.number().nonnegative().optional(),
  /** The source's packets are re-encoded to H.264 (see `note`). */
  transcoded: z.boolean().optional(),
  /** Why it is re-encoded, e.g. "mpeg4 is not playable in browsers: re-encoded to H.264". */
  note: z.string().max(500).optional(),
});
export type PublishedVideo = z.infer<typeof PublishedVideoSchema>;

/** An error either hub socket reports: BAD_MESSAGE, SDP_INVALID, STREAM_UNKNOWN, UNAUTHORIZED, ... */
const errorFields = { t: z.literal('error'), code: z.string(), message: z.string() };

// ---- Edge <-> hub (MEDIA_EDGE_PATH) ----

/** Edge -> hub: publish a stream with werift's offer (one sendonly H.264 video, one `meta` data channel). */
export const PublishSchema = z.object({
  t: z.literal('publish'),
  streamId: IdSchema,
  sdp: z.string().min(1),
  video: PublishedVideoSchema,
});
export type Publish = z.infer<typeof PublishSchema>;

/** Edge -> hub: the stream ended. */
export const UnpublishSchema = z.object({ t: z.literal('unpublish'), streamId: IdSchema });
export type Unpublish = z.infer<typeof UnpublishSchema>;

/** Every message an edge sends on MEDIA_EDGE_PATH. */
export const EdgeMediaMessageSchema = z.discriminatedUnion('t', [PublishSchema, UnpublishSchema]);
export type EdgeMediaMessage = z.infer<typeof EdgeMediaMessageSchema>;

/** Every message the hub sends an edge on MEDIA_EDGE_PATH: the answer to a publish, or an error. */
export const HubToEdgeMediaMessageSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('answer'), streamId: IdSchema, sdp: z.string() }),
  z.object({ ...errorFields, streamId: IdSchema.optional() }),
]);
export type HubToEdgeMediaMessage = z.infer<typeof HubToEdgeMediaMessageSchema>;

// ---- Viewer <-> hub (MEDIA_VIEW_PATH) ----

/** A stream's key as viewers name it: `<edgeId>/<streamId>`. */
export const StreamKeySchema = z.string().min(3).max(200);

/** One published stream as viewers see it. */
export const PublishedStreamSchema = z.object({
  /** `<edgeId>/<streamId>`. */
  key: z.string(),
  edgeId: IdSchema,
  streamId: IdSchema,
  video: PublishedVideoSchema,
});
export type PublishedStream = z.infer<typeof PublishedStreamSchema>;

/** Every message a viewer sends on MEDIA_VIEW_PATH (`auth` first, within 5 s). */
export const ViewerToHubMessageSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('auth'), token: z.string() }),
  z.object({ t: z.literal('watch'), key: StreamKeySchema }),
  z.object({ t: z.literal('answer'), key: StreamKeySchema, sdp: z.string().min(1) }),
  z.object({ t: z.literal('unwatch'), key: StreamKeySchema }),
]);
export type ViewerToHubMessage = z.infer<typeof ViewerToHubMessageSchema>;

/** The `meta` data channel of an offer: mediasoup does not speak DCEP, so the viewer opens it negotiated with this id. */
export const DataChannelInfoSchema = z.object({
  label: z.literal('meta'),
  id: z.number().int().nonnegative(),
});
export type DataChannelInfo = z.infer<typeof DataChannelInfoSchema>;

/** Every message the hub sends a viewer on MEDIA_VIEW_PATH; an error with `key` concerns that stream only. */
export const HubToViewerMessageSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('streams'), streams: z.array(PublishedStreamSchema) }),
  z.object({
    t: z.literal('offer'),
    key: z.string(),
    sdp: z.string(),
    dataChannel: DataChannelInfoSchema.optional(),
  }),
  z.object({
    ...errorFields,
    key: z.string().optional(),
    /** STREAM_ELSEWHERE: the base URL of the hub of the cluster that has the stream (watch it there). */
    hub: z.string().optional(),
  }),
]);
export type HubToViewerMessage = z.infer<typeof HubToViewerMessageSchema>;

// ---- The `meta` data channel (edge -> viewer) ----

/** A box in the frame's pixels: x1, y1, x2, y2. */
export const BoxSchema = z.tuple([z.number(), z.number(), z.number(), z.number()]);

/** A class label with its score 0..1 (2 decimals): a track's crop labels (`k`) or a frame's labels (`cls`). */
export const MetaLabelSchema = z.object({ l: z.string().max(200), s: z.number() });
export type MetaLabel = z.infer<typeof MetaLabelSchema>;

/** Labels sent per track or frame, best first. */
export const META_LABELS_MAX = 3;

/** A track drawn on a frame: id, class id, label, score 0..1, box; `k` its crop's top labels (stage classify). */
export const MetaTrackSchema = z.object({
  id: z.number().int(),
  c: z.number().int(),
  l: z.string(),
  s: z.number(),
  b: BoxSchema,
  k: z.array(MetaLabelSchema).max(META_LABELS_MAX).optional(),
});
export type MetaTrack = z.infer<typeof MetaTrackSchema>;

/** An instance mask: row-major run lengths (zeros first) over a w x h grid covering `box` (Mask in types.ts). */
export const MetaMaskSchema = z.object({
  id: z.number().int(),
  box: BoxSchema,
  w: z.number().int().nonnegative(),
  h: z.number().int().nonnegative(),
  counts: z.array(z.number().int().nonnegative()),
});
export type MetaMask = z.infer<typeof MetaMaskSchema>;

/** Cells a class map may have (w * h). */
export const META_MAP_MAX_CELLS = 1_000_000;

/**
 * A semantic segmentation class map (ClassMap in types.ts): a w x h grid laid over the whole frame, row-major runs
 * as alternating [classId, length] pairs; the lengths sum to w * h.
 */
export const MetaClassMapSchema = z
  .object({
    w: z.number().int().positive(),
    h: z.number().int().positive(),
    runs: z.array(z.number().int().nonnegative()).max(2 * META_MAP_MAX_CELLS),
  })
  .refine((m) => m.w * m.h <= META_MAP_MAX_CELLS, { message: `w * h over ${META_MAP_MAX_CELLS}` })
  .refine((m) => m.runs.length % 2 === 0 && m.runs.length <= 2 * m.w * m.h, {
    message: 'runs are [classId, length] pairs, at most one per cell',
  });
export type MetaClassMap = z.infer<typeof MetaClassMapSchema>;

/** A frame's semantic segmentation (stage segment): each class's share of the frame (`f`, 4 decimals), the map. */
export const MetaSegmentationSchema = z.object({
  classes: z
    .array(
      z.object({ c: z.number().int().nonnegative(), l: z.string().max(200), f: z.number().min(0).max(1) }),
    )
    .max(1000),
  map: MetaClassMapSchema.optional(),
});
export type MetaSegmentation = z.infer<typeof MetaSegmentationSchema>;

/**
 * The JSON sent on the `meta` data channel for each frame, keyed by the frame's RTP timestamp. The channel carries
 * this one message, versioned by `v` rather than typed by `t`: here `t` is a time.
 */
export const FrameMetaSchema = z.object({
  v: z.literal(1),
  /** RTP timestamp of the frame's packets. */
  rtp: z.number().int().nonnegative(),
  /** Frame sequence number in the stream (-1 when the frame's outcome never came: timed out). */
  seq: z.number().int(),
  pts: z.number(),
  /** The frame's size: boxes are in these pixels. */
  w: z.number().nonnegative(),
  h: z.number().nonnegative(),
  /** Epoch ms the edge received the frame (decoder output). */
  t: z.number(),
  /** Epoch ms the frame left the edge. */
  sent: z.number(),
  tracks: z.array(MetaTrackSchema),
  /** Instance masks of the tracks that have one (a segmentation model). */
  masks: z.array(MetaMaskSchema).optional(),
  /** The whole frame's top labels (stage classify on frames), on the frames it ran on. */
  cls: z.array(MetaLabelSchema).max(META_LABELS_MAX).optional(),
  /** The frame's semantic segmentation (stage segment), on the frames it ran on (one in `segment.every`). */
  seg: MetaSegmentationSchema.optional(),
  /** No result came for the frame (dropped or timed out): no tracks. */
  skipped: z.boolean(),
});
export type FrameMeta = z.infer<typeof FrameMetaSchema>;
