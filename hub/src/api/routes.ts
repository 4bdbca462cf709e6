/**
 * The REST API under /api/v1: each route declares its schemas (validated by zod, published in the OpenAPI
 * document) and the role it needs (`x-required-role` in the document; checked before validation, so a caller
 * without the role learns nothing about the body it would need).
 */
import { createRoute, type OpenAPIHono, type RouteConfig, z } from '@hono/zod-openapi';
import { and, desc, eq, gte, lt, type SQL } from 'drizzle-orm';
import type { TokenService } from '../auth/token-service.ts';
import { FleetError, type FleetHub } from '../fleet/fleet-hub.ts';
import type { Store } from '../store/db.ts';
import { events, type TokenRole, trackPoints, tracks } from '../store/schema.ts';
import { auditRecorder, registerAdminRoutes } from './admin-routes.ts';
import { type AuthDeps, type AuthEnv, requireRole } from './auth.ts';
import { ApiErrorSchema, apiError } from './errors.ts';
import {
  AddStreamBody,
  AUTH_ERRORS,
  BAD_REQUEST,
  CommandResultSchema,
  ConfigPatchBody,
  CreatedTokenSchema,
  CreateEnrollmentBody,
  CreateTokenBody,
  EdgeParams,
  EdgeViewSchema,
  EnrollBody,
  EnrolledSchema,
  EventQuery,
  EventSchemaOut,
  json,
  NOT_FOUND,
  PointSchemaOut,
  PointsQuery,
  SearchBody,
  SearchResultSchema,
  StreamParams,
  ThumbnailParams,
  TokenListingSchema,
  TokenParams,
  TrackKeyParams,
  TrackQuery,
  TrackSchema,
} from './schemas.ts';

/** Input of a search, after validation. */
export type SearchInput = z.infer<typeof SearchBody>;
/** One search hit. */
export type SearchHit = z.infer<typeof SearchResultSchema>['results'][number];

/** What the routes need from the hub. */
export interface ApiDeps extends AuthDeps {
  store: Store;
  tokens: TokenService;
  fleet: FleetHub;
  /** Reads a stored thumbnail (undefined when missing). */
  readThumbnail(sha256: string): Promise<Uint8Array | undefined>;
  /** Similar-track search; rejects with an HTTPException for a bad query (unknown track, wrong dimensions). */
  search(input: SearchInput): Promise<SearchHit[]>;
}

/** A route that needs `role`: security, the role extension and the auth error responses added. */
function authed<R extends RouteConfig>(deps: AuthDeps, role: TokenRole, route: R) {
  return createRoute({
    ...route,
    security: [{ bearer: [] }],
    'x-required-role': role,
    middleware: [requireRole(deps, role)] as const,
    responses: { ...AUTH_ERRORS, ...route.responses },
  });
}

/** `/api/v1/thumbnails/<sha>` for a stored thumbnail. */
export function thumbnailUrl(sha256: string | null | undefined): string | undefined {
  return sha256 ? `/api/v1/thumbnails/${sha256}` : undefined;
}

/** The API shape of a stored track. */
export function trackView(t: typeof tracks.$inferSelect) {
  return {
    id: `${t.edgeId}:${t.streamId}:${t.run}:${t.trackId}`,
    edgeId: t.edgeId,
    streamId: t.streamId,
    run: t.run,
    trackId: t.trackId,
    label: t.label,
    classId: t.classId,
    firstSeen: t.firstSeen.toISOString(),
    lastSeen: t.lastSeen.toISOString(),
    ...(t.bestThumbnail ? { thumbnail: thumbnailUrl(t.bestThumbnail) } : {}),
  };
}

/** Splits `edgeId:streamId:run:trackId`. */
export function parseTrackKey(key: string) {
  const [edgeId, streamId, run, trackId] = key.split(':') as [string, string, string, string];
  return { edgeId, streamId, run, trackId: Number(trackId) };
}

function fleetFailure(err: unknown): never {
  if (err instanceof FleetError) {
    const status = err.code === 'EDGE_UNKNOWN' ? 404 : err.code === 'EDGE_OFFLINE' ? 409 : 504;
    throw apiError(status, err.code, err.message);
  }
  throw err;
}

export function registerRoutes(app: OpenAPIHono<AuthEnv>, deps: ApiDeps): void {
  const { store, tokens, fleet } = deps;
  /** Every route that changes something records it in the audit log once it is done. */
  const record = auditRecorder(store);

  // ---- tokens and enrollment -------------------------------------------------------------------------
  app.openapi(
    authed(deps, 'admin', {
      method: 'post',
      path: '/api/v1/tokens',
      tags: ['tokens'],
      summary: 'Create an API token for a person or a tool (shown once)',
      request: { body: { content: { 'application/json': { schema: CreateTokenBody } }, required: true } },
      responses: { 201: json(CreatedTokenSchema, 'The new token'), ...BAD_REQUEST },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const created = await tokens.create({ role: body.role, name: body.name });
      await record(c, 'token.create', created.info.id, { role: body.role, name: created.info.name });
      return c.json(created, 201);
    },
  );

  app.openapi(
    authed(deps, 'admin', {
      method: 'get',
      path: '/api/v1/tokens',
      tags: ['tokens'],
      summary: 'List tokens (never their secrets)',
      responses: { 200: json(z.object({ tokens: z.array(TokenListingSchema) }), 'Tokens, newest first') },
    }),
    async (c) => c.json({ tokens: await tokens.list() }, 200),
  );

  app.openapi(
    authed(deps, 'admin', {
      method: 'delete',
      path: '/api/v1/tokens/{tokenId}',
      tags: ['tokens'],
      summary: 'Revoke a token (takes effect at once)',
      request: { params: TokenParams },
      responses: { 200: json(z.object({ revoked: z.string() }), 'Revoked'), ...BAD_REQUEST, ...NOT_FOUND },
    }),
    async (c) => {
      const { tokenId } = c.req.valid('param');
      if (!(await tokens.revoke(tokenId))) throw apiError(404, 'NOT_FOUND', `no token ${tokenId}`);
      await record(c, 'token.revoke', tokenId);
      return c.json({ revoked: tokenId }, 200);
    },
  );

  app.openapi(
    authed(deps, 'admin', {
      method: 'post',
      path: '/api/v1/enrollment-tokens',
      tags: ['tokens'],
      summary: 'Create a one-time enrollment token an edge trades for its own credential',
      request: {
        body: { content: { 'application/json': { schema: CreateEnrollmentBody } }, required: true },
      },
      responses: { 201: json(CreatedTokenSchema, 'The enrollment token'), ...BAD_REQUEST },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const created = await tokens.create({
        role: 'enroll',
        name: body.name ?? `enroll ${body.edgeId ?? 'any edge'}`,
        edgeId: body.edgeId,
        expiresAt: body.ttlSeconds ? new Date(Date.now() + body.ttlSeconds * 1000) : undefined,
      });
      const { id, name, edgeId, expiresAt } = created.info;
      await record(c, 'enrollment.create', id, { name, edgeId, expiresAt });
      return c.json(created, 201);
    },
  );

  app.openapi(
    authed(deps, 'enroll', {
      method: 'post',
      path: '/api/v1/enroll',
      tags: ['tokens'],
      summary: 'An edge trades its enrollment token (as the bearer token) for its own credential, once',
      request: { body: { content: { 'application/json': { schema: EnrollBody } }, required: true } },
      responses: {
        201: json(EnrolledSchema, "The edge's credential (store it; used for the uplink)"),
        ...BAD_REQUEST,
        409: json(ApiErrorSchema, 'The enrollment token was already used'),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const result = await tokens.enroll(c.get('auth'), body.edgeId, body.name);
      if (result === 'used') throw apiError(409, 'ENROLLMENT_USED', 'this enrollment token was already used');
      if (result === 'wrong-edge') {
        throw apiError(403, 'FORBIDDEN', `this enrollment token is for another edge than "${body.edgeId}"`);
      }
      await record(c, 'edge.enroll', body.edgeId, { name: body.name });
      return c.json({ edgeId: body.edgeId, token: result.token }, 201);
    },
  );

  // ---- fleet ----------------------------------------------------------------------------------------
  app.openapi(
    authed(deps, 'viewer', {
      method: 'get',
      path: '/api/v1/edges',
      tags: ['fleet'],
      summary: 'List edges with status (online / stale / offline from heartbeats), version, load and streams',
      responses: { 200: json(z.object({ edges: z.array(EdgeViewSchema) }), 'Every known edge') },
    }),
    async (c) => c.json({ edges: await fleet.list() }, 200),
  );

  app.openapi(
    authed(deps, 'viewer', {
      method: 'get',
      path: '/api/v1/edges/{edgeId}',
      tags: ['fleet'],
      summary: 'One edge',
      request: { params: EdgeParams },
      responses: { 200: json(EdgeViewSchema, 'The edge'), ...BAD_REQUEST, ...NOT_FOUND },
    }),
    async (c) => {
      const { edgeId } = c.req.valid('param');
      const edge = await fleet.get(edgeId);
      if (!edge) throw apiError(404, 'NOT_FOUND', `no edge "${edgeId}"`);
      return c.json(edge, 200);
    },
  );

  app.openapi(
    authed(deps, 'admin', {
      method: 'delete',
      path: '/api/v1/edges/{edgeId}',
      tags: ['fleet'],
      summary: 'Remove an edge: revokes its credentials and disconnects it (its stored tracks stay)',
      request: { params: EdgeParams },
      responses: { 200: json(z.object({ removed: z.string() }), 'Removed'), ...BAD_REQUEST, ...NOT_FOUND },
    }),
    async (c) => {
      const { edgeId } = c.req.valid('param');
      await tokens.revokeEdge(edgeId);
      if (!(await fleet.remove(edgeId))) throw apiError(404, 'NOT_FOUND', `no edge "${edgeId}"`);
      await record(c, 'edge.remove', edgeId);
      return c.json({ removed: edgeId }, 200);
    },
  );

  const commandResponses = {
    200: json(CommandResultSchema, 'The edge applied it'),
    ...BAD_REQUEST,
    ...NOT_FOUND,
    409: json(ApiErrorSchema, 'The edge is not connected'),
    422: json(ApiErrorSchema, 'The edge refused the change (its message says why)'),
    504: json(ApiErrorSchema, 'The edge did not answer in time'),
  };

  /** Sends a command and maps the edge's answer to the response. */
  const run = async (
    edgeId: string,
    op: Parameters<FleetHub['command']>[1],
    args: Record<string, unknown>,
  ) => {
    const result = await fleet.command(edgeId, op, args).catch(fleetFailure);
    if (!result.ok) {
      throw apiError(
        422,
        result.error?.code ?? 'COMMAND_FAILED',
        result.error?.message ?? 'the edge refused',
      );
    }
    return { ok: true, ...(result.data ? { data: result.data } : {}) };
  };

  app.openapi(
    authed(deps, 'operator', {
      method: 'post',
      path: '/api/v1/edges/{edgeId}/streams',
      tags: ['fleet'],
      summary: 'Add a stream to an edge (it starts at once)',
      request: {
        params: EdgeParams,
        body: { content: { 'application/json': { schema: AddStreamBody } }, required: true },
      },
      responses: commandResponses,
    }),
    async (c) => {
      const { edgeId } = c.req.valid('param');
      const body = c.req.valid('json');
      const result = await run(edgeId, 'addStream', body);
      await record(c, 'stream.add', `${edgeId}/${body.id}`, body);
      return c.json(result, 200);
    },
  );

  app.openapi(
    authed(deps, 'operator', {
      method: 'delete',
      path: '/api/v1/edges/{edgeId}/streams/{streamId}',
      tags: ['fleet'],
      summary: 'Remove a stream from an edge',
      request: { params: StreamParams },
      responses: commandResponses,
    }),
    async (c) => {
      const { edgeId, streamId } = c.req.valid('param');
      const result = await run(edgeId, 'removeStream', { streamId });
      await record(c, 'stream.remove', `${edgeId}/${streamId}`);
      return c.json(result, 200);
    },
  );

  for (const action of ['start', 'stop'] as const) {
    app.openapi(
      authed(deps, 'operator', {
        method: 'post',
        path: `/api/v1/edges/{edgeId}/streams/{streamId}/${action}`,
        tags: ['fleet'],
        summary: action === 'start' ? 'Start a stopped stream' : 'Stop a stream (it stays configured)',
        request: { params: StreamParams },
        responses: commandResponses,
      }),
      async (c) => {
        const { edgeId, streamId } = c.req.valid('param');
        const result = await run(edgeId, action === 'start' ? 'startStream' : 'stopStream', { streamId });
        await record(c, action === 'start' ? 'stream.start' : 'stream.stop', `${edgeId}/${streamId}`);
        return c.json(result, 200);
      },
    );
  }

  app.openapi(
    authed(deps, 'operator', {
      method: 'patch',
      path: '/api/v1/edges/{edgeId}/config',
      tags: ['fleet'],
      summary: 'Push a config change; the edge applies it without a restart and reports what changed',
      request: {
        params: EdgeParams,
        body: { content: { 'application/json': { schema: ConfigPatchBody } }, required: true },
      },
      responses: commandResponses,
    }),
    async (c) => {
      const { edgeId } = c.req.valid('param');
      const patch = c.req.valid('json');
      const result = await run(edgeId, 'applyConfig', patch);
      const applied = (result.data as { applied?: unknown } | undefined)?.applied;
      await record(c, 'config.update', edgeId, { patch, ...(applied !== undefined ? { applied } : {}) });
      return c.json(result, 200);
    },
  );

  // ---- tracks, events, thumbnails, search -------------------------------------------------------------
  app.openapi(
    authed(deps, 'viewer', {
      method: 'get',
      path: '/api/v1/tracks',
      tags: ['data'],
      summary: 'Tracks, most recently seen first, filtered by edge, stream, label and time',
      request: { query: TrackQuery },
      responses: { 200: json(z.object({ tracks: z.array(TrackSchema) }), 'Tracks'), ...BAD_REQUEST },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const where: SQL[] = [];
      if (q.edgeId) where.push(eq(tracks.edgeId, q.edgeId));
      if (q.streamId) where.push(eq(tracks.streamId, q.streamId));
      if (q.label) where.push(eq(tracks.label, q.label));
      if (q.from) where.push(gte(tracks.lastSeen, new Date(q.from)));
      if (q.to) where.push(lt(tracks.firstSeen, new Date(q.to)));
      const rows = await store.db
        .select()
        .from(tracks)
        .where(and(...where))
        .orderBy(desc(tracks.lastSeen))
        .limit(q.limit);
      return c.json({ tracks: rows.map(trackView) }, 200);
    },
  );

  app.openapi(
    authed(deps, 'viewer', {
      method: 'get',
      path: '/api/v1/tracks/{trackKey}/points',
      tags: ['data'],
      summary: "A track's boxes over time, oldest first",
      request: { params: TrackKeyParams, query: PointsQuery },
      responses: { 200: json(z.object({ points: z.array(PointSchemaOut) }), 'Points'), ...BAD_REQUEST },
    }),
    async (c) => {
      const k = parseTrackKey(c.req.valid('param').trackKey);
      const rows = await store.db
        .select()
        .from(trackPoints)
        .where(
          and(
            eq(trackPoints.edgeId, k.edgeId),
            eq(trackPoints.streamId, k.streamId),
            eq(trackPoints.run, k.run),
            eq(trackPoints.trackId, k.trackId),
          ),
        )
        .orderBy(trackPoints.ts)
        .limit(c.req.valid('query').limit);
      const points = rows.map((p) => ({
        ts: p.ts.toISOString(),
        box: [p.x1, p.y1, p.x2, p.y2],
        score: p.score,
      }));
      return c.json({ points }, 200);
    },
  );

  app.openapi(
    authed(deps, 'viewer', {
      method: 'get',
      path: '/api/v1/events',
      tags: ['data'],
      summary: 'Recent events, newest first',
      request: { query: EventQuery },
      responses: { 200: json(z.object({ events: z.array(EventSchemaOut) }), 'Events'), ...BAD_REQUEST },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const where: SQL[] = [];
      if (q.edgeId) where.push(eq(events.edgeId, q.edgeId));
      if (q.kind) where.push(eq(events.kind, q.kind));
      const rows = await store.db
        .select()
        .from(events)
        .where(and(...where))
        .orderBy(desc(events.id))
        .limit(q.limit);
      return c.json(
        {
          events: rows.map((e) => ({
            id: e.id,
            edgeId: e.edgeId,
            ...(e.streamId ? { streamId: e.streamId } : {}),
            kind: e.kind,
            ts: e.ts.toISOString(),
            ...(e.data != null ? { data: e.data } : {}),
          })),
        },
        200,
      );
    },
  );

  app.openapi(
    authed(deps, 'viewer', {
      method: 'get',
      path: '/api/v1/thumbnails/{sha256}',
      tags: ['data'],
      summary: 'A stored thumbnail (JPEG), by the sha256 of its bytes',
      request: { params: ThumbnailParams },
      responses: {
        200: {
          content: { 'image/jpeg': { schema: z.string().openapi({ format: 'binary' }) } },
          description: 'JPEG',
        },
        ...BAD_REQUEST,
        ...NOT_FOUND,
      },
    }),
    async (c) => {
      const { sha256 } = c.req.valid('param');
      const bytes = await deps.readThumbnail(sha256);
      if (!bytes) throw apiError(404, 'NOT_FOUND', `no thumbnail ${sha256}`);
      return c.body(new Uint8Array(bytes), 200, {
        'content-type': 'image/jpeg',
        'cache-control': 'private, max-age=31536000, immutable',
      });
    },
  );

  app.openapi(
    authed(deps, 'viewer', {
      method: 'post',
      path: '/api/v1/search',
      tags: ['data'],
      summary:
        'Tracks that look like an embedding or a track, best first, with filters applied without losing recall',
      request: { body: { content: { 'application/json': { schema: SearchBody } }, required: true } },
      responses: { 200: json(SearchResultSchema, 'Similar tracks'), ...BAD_REQUEST, ...NOT_FOUND },
    }),
    async (c) => c.json({ results: await deps.search(c.req.valid('json')) }, 200),
  );

  registerAdminRoutes(app, deps, record);
}
