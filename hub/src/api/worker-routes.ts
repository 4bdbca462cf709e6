/** The overflow workers route: the live workers and their queues, as the hub's overflow relay sees them. */
import { type OpenAPIHono, z } from '@hono/zod-openapi';
import type { OverflowSnapshot } from '../overflow/overflow-relay.ts';
import type { AuthDeps, AuthEnv } from './auth.ts';
import { authedRoute } from './authed-route.ts';
import { json } from './schemas.ts';

/** What the workers route needs. */
export interface WorkerRouteDeps extends AuthDeps {
  /** The overflow relay; without it the route answers `redis: "off"` and no workers. */
  overflow?: { snapshot(): OverflowSnapshot };
}

const WorkerViewSchema = z
  .object({
    id: z.string(),
    host: z.string(),
    pid: z.number().int(),
    models: z.array(z.string()),
    provider: z.string(),
    maxBatch: z.number().int(),
    capacityFps: z.number(),
    rateFps: z.number(),
    inFlight: z.number().int(),
    processed: z.number().int(),
    failed: z.number().int(),
    malformed: z.number().int(),
    startedAt: z.number(),
    heartbeatAt: z.number(),
    heartbeatAgeMs: z.number(),
    status: z.enum(['idle', 'busy', 'saturated']),
  })
  .openapi('Worker');

const QueueSchema = z
  .object({ length: z.number().int(), pending: z.number().int(), lag: z.number().int() })
  .openapi('OverflowQueue');

const WorkersSchema = z
  .object({
    redis: z.enum(['connected', 'unavailable', 'off']),
    workers: z.array(WorkerViewSchema),
    queues: z.record(z.string(), QueueSchema),
  })
  .openapi('Workers');

/** GET /api/v1/workers (viewer). */
export function registerWorkerRoutes(app: OpenAPIHono<AuthEnv>, deps: WorkerRouteDeps): void {
  app.openapi(
    authedRoute(deps, 'viewer', {
      method: 'get',
      path: '/api/v1/workers',
      tags: ['fleet'],
      summary: 'Overflow workers (live while their heartbeats go on) and the request queue of each model',
      responses: { 200: json(WorkersSchema, 'Redis state, live workers, queues per model') },
    }),
    (c) => c.json(deps.overflow?.snapshot() ?? { redis: 'off' as const, workers: [], queues: {} }, 200),
  );
}
