/** The route declaration every API route group uses: a zod-openapi route that needs a role. */
import { createRoute, type RouteConfig } from '@hono/zod-openapi';
import type { TokenRole } from '../store/schema.ts';
import { type AuthDeps, requireRole } from './auth.ts';
import { AUTH_ERRORS } from './schemas.ts';

/**
 * A route that needs `role`: bearer security, the `x-required-role` extension and the auth error responses added,
 * and the role checked before validation (so a caller without the role learns nothing about the body it would need).
 */
export function authedRoute<R extends RouteConfig>(deps: AuthDeps, role: TokenRole, route: R) {
  return createRoute({
    ...route,
    security: [{ bearer: [] }],
    'x-required-role': role,
    middleware: [requireRole(deps, role)] as const,
    responses: { ...AUTH_ERRORS, ...route.responses },
  });
}
