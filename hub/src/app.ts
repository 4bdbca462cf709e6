/**
 * The hub's HTTP application: /health (liveness), /ready (readiness), the REST API under /api/v1 (OpenAPI 3.1 at
 * /api/v1/openapi.json, a readable page at /api/v1/docs), /metrics, and the status page. Public without a token:
 * /health, /ready, the API documents and the status page's HTML (which holds no data; its script calls the API
 * with a token).
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { healthReport, isReady, READY_RETRY_AFTER_SECONDS } from '@sightline/shared';
import { bodyLimit } from 'hono/body-limit';
import type { AuthEnv } from './api/auth.ts';
import { requireRole } from './api/auth.ts';
import { apiDocsPage } from './api/docs-page.ts';
import { apiError, errorResponse, validationHook } from './api/errors.ts';
import { type ApiDeps, registerRoutes } from './api/routes.ts';
import { AUTH_ERRORS } from './api/schemas.ts';
import type { Limiter } from './auth/rate-limiter.ts';
import type { TokenService } from './auth/token-service.ts';
import type { FleetHub } from './fleet/fleet-hub.ts';
import { createHubReadiness, type IndexesSource } from './health.ts';
import { corsPolicy, cspNonce, securityHeaders } from './http/security.ts';
import type { HubMetrics } from './hub-metrics.ts';
import type { MediaHub } from './media/media-hub.ts';
import { registerWhepRoutes } from './media/whep-routes.ts';
import { statusPage } from './status-page.ts';
import type { Store } from './store/db.ts';
import { VERSION } from './version.ts';
import { mountViewer } from './web-assets.ts';

export interface HubAppOptions extends Omit<ApiDeps, 'refused'> {
  store: Store;
  tokens: TokenService;
  limiter: Limiter;
  fleet: FleetHub;
  metrics: HubMetrics;
  /** Live video (WHEP routes); without it they answer 503 MEDIA_UNAVAILABLE. */
  media?: MediaHub;
  /** Largest accepted request body in bytes; a larger one gets 413 PAYLOAD_TOO_LARGE unread. Default 1 MiB. */
  maxBodyBytes?: number;
  /** The embedding indexes, checked by /ready (none loading); without them /ready checks the database only. */
  indexes?: IndexesSource;
  /** Longest wait of /ready for the database (ms). Default 2000. */
  readyTimeoutMs?: number;
  /** Origins (`https://host[:port]`) allowed to call the API from a browser (CORS). Default none: no CORS. */
  cors?: readonly string[];
}

export function createHubApp(options: HubAppOptions): OpenAPIHono<AuthEnv> {
  const { metrics } = options;
  const maxBodyBytes = options.maxBodyBytes ?? 1 << 20;
  const deps: ApiDeps = { ...options, refused: metrics.authRefused };
  const app = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook as never });

  app.use('*', async (c, next) => {
    const start = performance.now();
    await next();
    const route = c.req.routePath || 'unmatched';
    metrics.httpRequests.inc({ method: c.req.method, route, status: String(c.res.status) });
    metrics.httpSeconds.observe({ method: c.req.method, route }, (performance.now() - start) / 1000);
  });
  // Security headers on every response (pages, JSON, errors, 404s); CORS only for configured origins.
  app.use('*', securityHeaders());
  const corsMiddleware = corsPolicy(options.cors);
  if (corsMiddleware) app.use('*', corsMiddleware);
  // The limit is enforced while the body arrives (by its content-length, or by counting a chunked body).
  app.use(
    '/api/*',
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: () => {
        throw apiError('PAYLOAD_TOO_LARGE', `body larger than ${maxBodyBytes} bytes`);
      },
    }),
  );

  // Liveness: answers while the process serves, whatever its dependencies say (those are /ready's).
  app.get('/health', (c) => c.json(healthReport(VERSION)));
  const readiness = createHubReadiness({
    store: options.store,
    indexes: options.indexes,
    timeoutMs: options.readyTimeoutMs,
  });
  app.get('/ready', async (c) => {
    const report = await readiness();
    if (isReady(report)) return c.json(report, 200);
    return c.json(report, 503, { 'retry-after': String(READY_RETRY_AFTER_SECONDS) });
  });

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description:
      'slt_... token: an API token (viewer, operator, admin), an enrollment token, or an edge credential',
  });
  registerRoutes(app, deps);
  registerWhepRoutes(
    app,
    deps,
    () => options.media,
    (edgeId) => options.fleet.holder(edgeId),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/metrics',
      tags: ['operations'],
      summary: 'Prometheus metrics of the hub (text exposition format)',
      security: [{ bearer: [] }],
      'x-required-role': 'viewer',
      middleware: [requireRole(deps, 'viewer')] as const,
      responses: {
        200: { content: { 'text/plain': { schema: z.string() } }, description: 'Metrics' },
        ...AUTH_ERRORS,
      },
    }),
    async (c) =>
      c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }),
  );

  app.doc31('/api/v1/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Sightline hub API',
      version: VERSION,
      description:
        'Fleet, tokens, tracks, similarity search and live video (WHEP) of a Sightline hub. Live-video signalling ' +
        'runs over WebSockets at /api/v1/media/edge and /api/v1/media/view (see docs/webrtc.md).',
    },
  });
  app.get('/api/v1/docs', (c) => c.html(apiDocsPage(cspNonce(c))));
  app.get('/', (c) => c.html(statusPage(cspNonce(c))));
  mountViewer(app);

  app.notFound((c) =>
    c.json({ error: { code: 'NOT_FOUND', message: `no route ${c.req.method} ${c.req.path}` } }, 404),
  );
  app.onError(errorResponse);
  return app;
}
