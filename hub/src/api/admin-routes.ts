/**
 * Admin routes for what the hub keeps about itself: the audit log (who changed what through the API) and the
 * quarantine of uplink batches refused for their content. Also the one helper every mutating route records with.
 */
import { createRoute, type OpenAPIHono, type RouteConfig, z } from '@hono/zod-openapi';
import { childLogger } from '@sightline/shared';
import type { Context } from 'hono';
import { type AuditAction, appendAudit, listAudit } from '../store/audit-log.ts';
import type { Store } from '../store/db.ts';
import { discardQuarantined, listQuarantine, quarantinePayload } from '../store/quarantine.ts';
import { storeErrorReason } from '../store/store-errors.ts';
import { type AuthDeps, type AuthEnv, requireRole } from './auth.ts';
import { apiError } from './errors.ts';
import {
  AUTH_ERRORS,
  AuditEntrySchema,
  AuditQuery,
  BAD_REQUEST,
  json,
  NOT_FOUND,
  QuarantinedBatchSchema,
  QuarantineParams,
  QuarantineQuery,
} from './schemas.ts';

const log = childLogger('audit');

/** Records one change made by the request's token; see {@link auditRecorder}. */
export type RecordAudit = (
  c: Context<AuthEnv>,
  action: AuditAction,
  target: string,
  detail?: Record<string, unknown>,
) => Promise<void>;

/**
 * Records changes in the audit log, after they were made. A failure to write the entry (the store gone away just
 * then) does not undo or fail the change the caller already made: the entry goes to the hub's log in full instead
 * (error level, "audit entry not written"), from where it can be recovered.
 */
export function auditRecorder(store: Store): RecordAudit {
  return async (c, action, target, detail) => {
    const auth = c.get('auth');
    const entry = { tokenId: auth.id, role: auth.role, action, target, detail };
    try {
      await appendAudit(store, entry);
    } catch (err) {
      log.error({ audit: entry, err: storeErrorReason(err) }, 'audit entry not written');
    }
  };
}

function adminRoute<R extends RouteConfig>(deps: AuthDeps, route: R) {
  return createRoute({
    ...route,
    security: [{ bearer: [] }],
    'x-required-role': 'admin',
    middleware: [requireRole(deps, 'admin')] as const,
    responses: { ...AUTH_ERRORS, ...route.responses },
  });
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
      if (!bytes) throw apiError(404, 'NOT_FOUND', `no quarantined batch ${quarantineId}`);
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
      if (gone === undefined) throw apiError(404, 'NOT_FOUND', `no quarantined batch ${quarantineId}`);
      await record(c, 'quarantine.discard', String(gone));
      return c.json({ discarded: gone }, 200);
    },
  );
}
