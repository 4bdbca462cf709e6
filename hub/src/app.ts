/** The hub's HTTP application: health, fleet status API and the status page. */

import { ID_PATTERN } from '@sightline/shared';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { EdgeStatusReport, type FleetState } from './fleet-state.ts';
import { statusPage } from './status-page.ts';

export interface HubAppOptions {
  fleet: FleetState;
  /** Largest accepted request body in bytes; a larger one gets 413 PAYLOAD_TOO_LARGE unread. Default 1 MiB. */
  maxBodyBytes?: number;
}

function error(status: 400 | 404 | 413 | 415 | 507, code: string, message: string): HTTPException {
  return new HTTPException(status, { res: Response.json({ error: { code, message } }, { status }) });
}

export function createHubApp(options: HubAppOptions): Hono {
  const { fleet } = options;
  const maxBodyBytes = options.maxBodyBytes ?? 1 << 20;
  const app = new Hono();

  app.get('/health', (c) => c.json({ ok: true }));

  app.get('/api/v1/status', (c) => c.json({ edges: fleet.edges() }));

  // Edges report their live counters here until the uplink issue replaces this with the WebSocket uplink.
  // The limit is enforced while the body arrives (by its content-length, or by counting a chunked body), never
  // after buffering all of it.
  const limit = bodyLimit({
    maxSize: maxBodyBytes,
    onError: () => {
      throw error(413, 'PAYLOAD_TOO_LARGE', `body larger than ${maxBodyBytes} bytes`);
    },
  });
  app.post('/api/v1/edges/:edgeId/status', limit, async (c) => {
    const edgeId = c.req.param('edgeId');
    if (!ID_PATTERN.test(edgeId)) throw error(400, 'BAD_REQUEST', `invalid edge id "${edgeId}"`);
    if (!(c.req.header('content-type') ?? '').includes('application/json')) {
      throw error(415, 'UNSUPPORTED_MEDIA_TYPE', 'expected a JSON body (content-type: application/json)');
    }
    const text = await c.req.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw error(400, 'BAD_REQUEST', `body is not valid JSON: ${(err as Error).message}`);
    }
    const parsed = EdgeStatusReport.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw error(400, 'VALIDATION_FAILED', `${issue.path.join('.') || '(body)'}: ${issue.message}`);
    }
    if (!fleet.report(edgeId, parsed.data)) {
      throw error(
        507,
        'FLEET_FULL',
        `the hub keeps at most ${fleet.maxEdges} edges; "${edgeId}" is not one of them (an edge silent for ${fleet.evictAfterMs / 1000} s is dropped)`,
      );
    }
    return c.json({ ok: true });
  });

  app.get('/', (c) => c.html(statusPage()));

  app.notFound((c) =>
    c.json({ error: { code: 'NOT_FOUND', message: `no route ${c.req.method} ${c.req.path}` } }, 404),
  );
  app.onError((err, c) => {
    if (err instanceof HTTPException) return err.getResponse();
    return c.json({ error: { code: 'INTERNAL', message: err.message } }, 500);
  });
  return app;
}
