/**
 * Admin routes for what the hub keeps about itself: the audit log (who changed what through the API) and the
 * quarantine of uplink batches refused for their content.
 */
import { type OpenAPIHono, type RouteConfig, z } from '@hono/zod-openapi';
import { listAudit } from '../store/audit-log.ts';
import type { Store } from '../store/db.ts';
import { discardQuarantined, listQuarantine, quarantinePayload } from '../store/quarantine.ts';
import type { RecordAudit } from './audit-recorder.ts';
import type { AuthDeps, AuthEnv } from './auth.ts';
import { authedRoute } from './authed-route.ts';
import { apiError } from './errors.ts';
import {
  AuditEntrySchema,
  AuditQuery,
  BAD_REQUEST,
  json,
  NOT_FOUND,
  QuarantinedBatchSchema,
  QuarantineParams,
  QuarantineQuery,
} from './schemas.ts';

function adminRoute<R extends RouteConfig>(deps: AuthDeps, route: R) {
  return authedRoute(deps, 'admin', route);
}

/** GET /api/v1/audit, and the quarantine: GET list, GET payload, DELETE. All need the admin role. */
export function registerAdminRoutes(
  app: OpenAPIHono<AuthEnv>,
  deps: AuthDeps & { store: Store },
  record: RecordAudit,
): void {
  const { store } = deps;

  app.openapi(
    adminRoute(deps, {
      method: 'get',
      path: '/api/v1/audit',
      tags: ['operations'],
      summary: 'The audit log: who (token) changed what (tokens, edges, streams, config) through the API',
      request: { query: AuditQuery },
      responses: {
        200: json(z.object({ entries: z.array(AuditEntrySchema) }), 'Changes, newest first'),
        ...BAD_REQUEST,
      },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const entries = await listAudit(store, {
        since: q.since ? new Date(q.since) : undefined,
        action: q.action,
        tokenId: q.tokenId,
        before: q.before,
        limit: q.limit,
      });
      return c.json({ entries }, 200);
    },
  );

  app.openapi(
    adminRoute(deps, {
      method: 'get',
      path: '/api/v1/quarantine',
      tags: ['operations'],
      summary: 'Uplink batches refused for their content (never stored, the edge dropped them), newest first',
      request: { query: QuarantineQuery },
      responses: {
        200: json(z.object({ batches: z.array(QuarantinedBatchSchema) }), 'Quarantined batches'),
        ...BAD_REQUEST,
      },
    }),
    async (c) => c.json({ batches: await listQuarantine(store, c.req.valid('query')) }, 200),
  );

  app.openapi(
    adminRoute(deps, {
      method: 'get',
      path: '/api/v1/quarantine/{quarantineId}/payload',
      tags: ['operations'],
      summary: 'The frame of a quarantined batch as the edge sent it (msgpack)',
      request: { params: QuarantineParams },
      responses: {
        200: {
          content: { 'application/vnd.msgpack': { schema: z.string().openapi({ format: 'binary' }) } },
          description: 'The raw uplink frame',
        },
        ...BAD_REQUEST,
        ...NOT_FOUND,
      },
    }),
    async (c) => {
      const { quarantineId } = c.req.valid('param');
      const bytes = await quarantinePayload(store, quarantineId);
      if (!bytes) throw apiError('NOT_FOUND', `no quarantined batch ${quarantineId}`);
      return c.body(new Uint8Array(bytes), 200, {
        'content-type': 'application/vnd.msgpack',
        'content-disposition': `attachment; filename="quarantine-${quarantineId}.msgpack"`,
      });
    },
  );

  app.openapi(
    adminRoute(deps, {
      method: 'delete',
      path: '/api/v1/quarantine/{quarantineId}',
      tags: ['operations'],
      summary: 'Discard a quarantined batch',
      request: { params: QuarantineParams },
      responses: {
        200: json(z.object({ discarded: z.number() }), 'Discarded'),
        ...BAD_REQUEST,
        ...NOT_FOUND,
      },
    }),
    async (c) => {
      const { quarantineId } = c.req.valid('param');
      const [gone] = await discardQuarantined(store, [quarantineId]);
      if (gone === undefined) throw apiError('NOT_FOUND', `no quarantined batch ${quarantineId}`);
      await record(c, 'quarantine.discard', String(gone));
      return c.json({ discarded: gone }, 200);
    },
  );
}
