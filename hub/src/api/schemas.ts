/** Request and response schemas of the REST API (zod; the OpenAPI document is generated from them). */
import { z } from '@hono/zod-openapi';
import { hasNul, ID_PATTERN, ID_RULE, ID_SOURCE, jsonProblem, NUL_MESSAGE } from '@sightline/shared';
import { AUDIT_ACTIONS } from '../store/audit-log.ts';
import { ApiErrorSchema } from './errors.ts';

/** Text the store can hold (PostgreSQL text refuses NUL): `min`..`max` characters, no U+0000. */
function text(max: number, min = 0) {
  return z
    .string()
    .min(min)
    .max(max)
    .refine((s) => !hasNul(s), NUL_MESSAGE);
}

/**
 * Edge and stream ids: the one id rule of @sightline/shared (ID_PATTERN, ID_RULE), built with this module's `z` so
 * it takes `.openapi()` (the shared IdSchema is a plain zod schema).
 */
export const IdSchema = z.string().regex(ID_PATTERN, ID_RULE);

export const EdgeParams = z.object({
  edgeId: IdSchema.openapi({ param: { name: 'edgeId', in: 'path' }, example: 'edge-1' }),
});
export const StreamParams = EdgeParams.extend({
  streamId: IdSchema.openapi({ param: { name: 'streamId', in: 'path' }, example: 'cam1' }),
});
export const TokenParams = z.object({
  tokenId: z
    .string()
    .regex(/^[0-9a-f]{16}$/, '16 hex digits')
    .openapi({ param: { name: 'tokenId', in: 'path' }, example: '3f9a0c1d2b4e5f60' }),
});
export const ThumbnailParams = z.object({
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, '64 hex digits')
    .openapi({ param: { name: 'sha256', in: 'path' } }),
});

export const PersonRole = z.enum(['viewer', 'operator', 'admin']);

export const TokenListingSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    role: z.enum(['viewer', 'operator', 'admin', 'edge', 'enroll']),
    edgeId: z.string().optional(),
    createdAt: z.string(),
    revokedAt: z.string().optional(),
    lastUsed: z.string().optional(),
    expiresAt: z.string().optional(),
    usedAt: z.string().optional(),
  })
  .openapi('Token');

export const CreateTokenBody = z
  .strictObject({
    role: PersonRole,
    name: text(100, 1).optional(),
  })
  .openapi('CreateToken');

export const CreatedTokenSchema = z
  .object({
    token: z.string().openapi({ description: 'Shown once; store it now.' }),
    info: TokenListingSchema,
  })
  .openapi('CreatedToken');

export const CreateEnrollmentBody = z
  .strictObject({
    /** Only this edge id may enroll with it (any when omitted). */
    edgeId: IdSchema.optional(),
    /** Validity in seconds. Default 86400. */
    ttlSeconds: z
      .number()
      .int()
      .min(60)
      .max(30 * 86400)
      .optional(),
    name: text(100, 1).optional(),
  })
  .openapi('CreateEnrollmentToken');

export const EnrollBody = z
  .strictObject({ edgeId: IdSchema, name: text(100, 1).optional() })
  .openapi('Enroll');

export const EnrolledSchema = z.object({ edgeId: z.string(), token: z.string() }).openapi('Enrolled');

const StreamViewSchema = z
  .object({
    streamId: z.string(),
    source: z.string().optional(),
    state: z.string().optional(),
    fps: z.number().optional(),
    framesDecoded: z.number().optional(),
    framesInferred: z.number().optional(),
    droppedOverflow: z.number().optional(),
    droppedStale: z.number().optional(),
    latencyP50Ms: z.number().optional(),
    latencyP95Ms: z.number().optional(),
    activeTracks: z.number().optional(),
    reconnects: z.number().optional(),
    inferErrors: z.number().optional(),
    decoder: z.string().optional(),
    lastError: z.string().optional(),
    tracksStored: z.number(),
  })
  .openapi('StreamView');

export const EdgeViewSchema = z
  .object({
    edgeId: z.string(),
    name: z.string(),
    status: z.enum(['online', 'stale', 'offline']),
    connected: z.boolean(),
    version: z.string(),
    model: z.string().optional(),
    provider: z.string().optional(),
    lastSeen: z.string().optional(),
    load: z
      .object({ cpu: z.number(), rssMb: z.number(), outboxMessages: z.number(), outboxDropped: z.number() })
      .optional(),
    streams: z.array(StreamViewSchema),
    config: z.record(z.string(), z.unknown()).optional(),
    hub: z.object({ id: z.string(), url: z.string() }).optional().openapi({
      description: 'The hub holding the connection, when another hub of the cluster does (Redis)',
    }),
  })
  .openapi('Edge');

export const AddStreamBody = z
  .strictObject({
    id: IdSchema,
    source: text(2048, 1).openapi({ example: 'rtsp://camera.local/stream1' }),
    loop: z.boolean().optional(),
    realtime: z.boolean().optional(),
  })
  .openapi('AddStream');

export const ConfigPatchBody = z
  .record(z.string(), z.unknown())
  .refine((v) => Object.keys(v).length > 0, 'empty config change')
  // The edge reports the config it runs back to the hub, which stores it as jsonb: nothing jsonb cannot hold.
  .superRefine((v, ctx) => {
    const problem = jsonProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .openapi('ConfigPatch', {
    description: 'A partial edge config (same fields as the edge config file), deep-merged by the edge.',
    example: { detector: { confidence: 0.6 } },
  });

export const CommandResultSchema = z
  .object({
    ok: z.boolean(),
    data: z.record(z.string(), z.unknown()).optional(),
  })
  .openapi('CommandResult');

const isoTime = z.iso.datetime({ offset: true });

export const TrackQuery = z.object({
  edgeId: IdSchema.optional().openapi({ param: { name: 'edgeId', in: 'query' } }),
  streamId: IdSchema.optional().openapi({ param: { name: 'streamId', in: 'query' } }),
  label: text(64)
    .optional()
    .openapi({ param: { name: 'label', in: 'query' } }),
  from: isoTime
    .optional()
    .openapi({ param: { name: 'from', in: 'query' }, description: 'last seen at or after' }),
  to: isoTime.optional().openapi({ param: { name: 'to', in: 'query' }, description: 'first seen before' }),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(100)
    .openapi({ param: { name: 'limit', in: 'query' } }),
});

export const TrackSchema = z
  .object({
    id: z.string().openapi({ description: 'edgeId:streamId:run:trackId', example: 'edge-1:cam1:lx2k9a:17' }),
    edgeId: z.string(),
    streamId: z.string(),
    run: z.string(),
    trackId: z.number(),
    label: z.string(),
    classId: z.number(),
    firstSeen: z.string(),
    lastSeen: z.string(),
    thumbnail: z.string().optional().openapi({ description: 'URL of the best crop' }),
    classes: z
      .array(z.object({ classId: z.number(), label: z.string(), score: z.number() }))
      .optional()
      .openapi({
        description: 'The labels its crop was classified with last (stage "classify"), best first',
      }),
  })
  .openapi('Track');

/** Largest track id the store holds (its column is a PostgreSQL integer). */
export const MAX_TRACK_ID = 2_147_483_647;

export const TrackKeyParams = z.object({
  trackKey: z
    .string()
    .regex(new RegExp(`^${ID_SOURCE}:${ID_SOURCE}:${ID_SOURCE}:\\d{1,10}$`), 'edgeId:streamId:run:trackId')
    // The store keeps track ids as int32: a larger one names no track and must not reach a query.
    .refine((key) => Number(key.slice(key.lastIndexOf(':') + 1)) <= MAX_TRACK_ID, {
      message: `trackId must be an integer 0..${MAX_TRACK_ID}`,
    })
    .openapi({ param: { name: 'trackKey', in: 'path' }, example: 'edge-1:cam1:lx2k9a:17' }),
});

export const PointsQuery = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(10000)
    .default(1000)
    .openapi({ param: { name: 'limit', in: 'query' } }),
});

export const PointSchemaOut = z
  .object({ ts: z.string(), box: z.array(z.number()).length(4), score: z.number() })
  .openapi('TrackPoint');

export const EventQuery = z.object({
  edgeId: IdSchema.optional().openapi({ param: { name: 'edgeId', in: 'query' } }),
  kind: text(64)
    .optional()
    .openapi({ param: { name: 'kind', in: 'query' } }),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(100)
    .openapi({ param: { name: 'limit', in: 'query' } }),
});

export const EventSchemaOut = z
  .object({
    id: z.number(),
    edgeId: z.string(),
    streamId: z.string().optional(),
    kind: z.string(),
    ts: z.string(),
    data: z.unknown().optional(),
  })
  .openapi('Event');

export const SearchBody = z
  .strictObject({
    embedding: z
      .array(z.number())
      .min(1)
      .max(4096)
      .optional()
      .openapi({ description: 'query vector (any scale)' }),
    track: TrackKeyParams.shape.trackKey
      .optional()
      .openapi({ description: "search with this track's appearance" }),
    model: IdSchema.default('osnet_x0_25_msmt17'),
    k: z.number().int().min(1).max(100).default(10),
    filters: z
      .strictObject({
        from: isoTime.optional(),
        to: isoTime.optional(),
        edgeId: IdSchema.optional(),
        streamId: IdSchema.optional(),
        label: text(64).optional(),
      })
      .default({}),
  })
  .refine((b) => (b.embedding === undefined) !== (b.track === undefined), {
    message: 'give exactly one of embedding or track',
    path: ['embedding'],
  })
  .openapi('Search');

export const SearchResultSchema = z
  .object({
    results: z.array(TrackSchema.extend({ score: z.number().openapi({ description: 'cosine similarity' }) })),
  })
  .openapi('SearchResults');

/** A positive row id in a path (a bigserial, within what a JS number holds exactly). */
const rowId = (name: string) =>
  z.coerce
    .number()
    .int()
    .min(1)
    .max(Number.MAX_SAFE_INTEGER)
    .openapi({ param: { name, in: 'path' }, example: 12 });

/** Paging: only rows with a smaller id (the `id` of the last row of the previous page). */
const beforeId = z.coerce
  .number()
  .int()
  .min(1)
  .max(Number.MAX_SAFE_INTEGER)
  .optional()
  .openapi({ param: { name: 'before', in: 'query' }, description: 'only ids below this (paging)' });

const pageLimit = z.coerce
  .number()
  .int()
  .min(1)
  .max(1000)
  .default(100)
  .openapi({ param: { name: 'limit', in: 'query' } });

export const AuditQuery = z.object({
  since: isoTime
    .optional()
    .openapi({ param: { name: 'since', in: 'query' }, description: 'only changes at or after this time' }),
  action: z
    .enum(AUDIT_ACTIONS)
    .optional()
    .openapi({ param: { name: 'action', in: 'query' } }),
  tokenId: TokenParams.shape.tokenId
    .optional()
    .openapi({ param: { name: 'tokenId', in: 'query' }, description: 'only changes made with this token' }),
  before: beforeId,
  limit: pageLimit,
});

export const AuditEntrySchema = z
  .object({
    id: z.number(),
    at: z.string(),
    tokenId: z.string().openapi({ description: 'the token that made the change' }),
    role: z.string().openapi({ description: "that token's role" }),
    action: z.string().openapi({ example: 'stream.add' }),
    target: z.string().openapi({ description: 'what was changed', example: 'edge-1/cam1' }),
    detail: z.unknown().optional().openapi({ description: 'details, secrets redacted' }),
  })
  .openapi('AuditEntry');

export const QuarantineQuery = z.object({
  edgeId: IdSchema.optional().openapi({ param: { name: 'edgeId', in: 'query' } }),
  before: beforeId,
  limit: pageLimit,
});

export const QuarantineParams = z.object({ quarantineId: rowId('quarantineId') });

export const QuarantinedBatchSchema = z
  .object({
    id: z.number(),
    edgeId: z.string(),
    streamId: z.string().optional(),
    run: z.string().optional(),
    seq: z.number().optional(),
    code: z.string().openapi({ description: 'the error code the edge was sent', example: 'BAD_MESSAGE' }),
    reason: z.string().openapi({ example: 'points.0.0: Too big: expected number to be <=2147483647' }),
    bytes: z.number().openapi({ description: 'size of the frame as received' }),
    receivedAt: z.string(),
  })
  .openapi('QuarantinedBatch');

/** JSON response helper for createRoute. */
export function json<T extends z.ZodType>(schema: T, description: string) {
  return { content: { 'application/json': { schema } }, description };
}

/** The error responses every authenticated route can give. */
export const AUTH_ERRORS = {
  401: json(ApiErrorSchema, 'No token, or a malformed, unknown, revoked or expired one'),
  403: json(ApiErrorSchema, "The token's role is too weak for this route"),
  429: json(ApiErrorSchema, 'Rate limit of this token exceeded (see Retry-After)'),
} as const;

export const BAD_REQUEST = {
  400: json(ApiErrorSchema, 'Malformed request (the message names the field)'),
} as const;
export const NOT_FOUND = { 404: json(ApiErrorSchema, 'No such resource') } as const;
