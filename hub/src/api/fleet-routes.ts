/** Fleet routes: list, read and remove edges; add, remove, start and stop their streams; push config changes. */
import { type OpenAPIHono, z } from '@hono/zod-openapi';
import type { TokenService } from '../auth/token-service.ts';
import type { FleetHub } from '../fleet/fleet-hub.ts';
import type { RecordAudit } from './audit-recorder.ts';
import type { AuthDeps, AuthEnv } from './auth.ts';
import { authedRoute } from './authed-route.ts';
import { ApiErrorSchema, apiError, jsonError } from './errors.ts';
import {
  AddStreamBody,
  BAD_REQUEST,
  CommandResultSchema,
  ConfigPatchBody,
  EdgeParams,
  EdgeViewSchema,
  json,
  NOT_FOUND,
  StreamParams,
} from './schemas.ts';

/** What the fleet routes need. */
export interface FleetRouteDeps extends AuthDeps {
  tokens: TokenService;
  fleet: FleetHub;
}

/** /api/v1/edges: GET list and one (viewer), DELETE (admin); streams and config commands (operator). */
export function registerFleetRoutes(
  app: OpenAPIHono<AuthEnv>,
  deps: FleetRouteDeps,
  record: RecordAudit,
): void {
  const { tokens, fleet } = deps;

  app.openapi(
    authedRoute(deps, 'viewer', {
      method: 'get',
      path: '/api/v1/edges',
      tags: ['fleet'],
      summary: 'List edges with status (online / stale / offline from heartbeats), version, load and streams',
      responses: { 200: json(z.object({ edges: z.array(EdgeViewSchema) }), 'Every known edge') },
    }),
    async (c) => c.json({ edges: await fleet.list() }, 200),
  );

  app.openapi(
    authedRoute(deps, 'viewer', {
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
      if (!edge) throw apiError('NOT_FOUND', `no edge "${edgeId}"`);
      return c.json(edge, 200);
    },
  );

  app.openapi(
    authedRoute(deps, 'admin', {
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
      if (!(await fleet.remove(edgeId))) throw apiError('NOT_FOUND', `no edge "${edgeId}"`);
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
    // A FleetError (EDGE_UNKNOWN, EDGE_OFFLINE, EDGE_TIMEOUT) goes to the error handler, which gives its status.
    const result = await fleet.command(edgeId, op, args);
    if (!result.ok) {
      // The edge's own code (STREAM_UNKNOWN, CONFIG_INVALID...) as it sent it: always 422, whatever the code.
      throw jsonError(
        422,
        result.error?.code ?? 'COMMAND_FAILED',
        result.error?.message ?? 'the edge refused',
      );
    }
    return { ok: true, ...(result.data ? { data: result.data } : {}) };
  };

  app.openapi(
    authedRoute(deps, 'operator', {
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
    authedRoute(deps, 'operator', {
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
      authedRoute(deps, 'operator', {
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
    authedRoute(deps, 'operator', {
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
}
