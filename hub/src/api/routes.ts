/**
 * The REST API under /api/v1, one file per route group: each route declares its schemas (validated by zod,
 * published in the OpenAPI document) and the role it needs (`x-required-role` in the document; checked before
 * validation, so a caller without the role learns nothing about the body it would need).
 */
import type { OpenAPIHono } from '@hono/zod-openapi';
import { registerAdminRoutes } from './admin-routes.ts';
import { auditRecorder } from './audit-recorder.ts';
import type { AuthEnv } from './auth.ts';
import { type DataRouteDeps, registerDataRoutes } from './data-routes.ts';
import { type FleetRouteDeps, registerFleetRoutes } from './fleet-routes.ts';
import { registerSearchRoutes, type SearchRouteDeps } from './search-routes.ts';
import { registerTokenRoutes, type TokenRouteDeps } from './token-routes.ts';
import { registerWorkerRoutes, type WorkerRouteDeps } from './worker-routes.ts';

/** What the routes need from the hub: the union of every route group's needs. */
export interface ApiDeps
  extends TokenRouteDeps,
    FleetRouteDeps,
    DataRouteDeps,
    SearchRouteDeps,
    WorkerRouteDeps {}

/** Registers every route group: tokens, fleet, overflow workers, data, search, then the admin routes (audit log, quarantine). */
export function registerRoutes(app: OpenAPIHono<AuthEnv>, deps: ApiDeps): void {
  /** Every route that changes something records it in the audit log once it is done. */
  const record = auditRecorder(deps.store);
  registerTokenRoutes(app, deps, record);
  registerFleetRoutes(app, deps, record);
  registerWorkerRoutes(app, deps);
  registerDataRoutes(app, deps);
  registerSearchRoutes(app, deps);
  registerAdminRoutes(app, deps, record);
}
