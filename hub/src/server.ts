/** Starts the hub's HTTP server on a port and returns its URL and a close function. */
import { serve } from '@hono/node-server';
import { childLogger } from '@sightline/shared';
import { createHubApp } from './app.ts';
import { FleetState } from './fleet-state.ts';

export interface HubServerOptions {
  /** TCP port; 0 picks a free one. Default 8080 (or $SIGHTLINE_HUB_PORT). */
  port?: number;
  /** Interface to bind. Default 127.0.0.1 (or $SIGHTLINE_HUB_HOST). */
  host?: string;
  /** Most edges kept; a new edge beyond it gets 507 FLEET_FULL. Default 1000. */
  maxEdges?: number;
  /** An edge not heard from for this long is forgotten. Default 600000 (10 minutes). */
  evictAfterMs?: number;
}

export interface HubServer {
  url: string;
  fleet: FleetState;
  close(): Promise<void>;
}

export async function startHub(options: HubServerOptions = {}): Promise<HubServer> {
  const port = options.port ?? Number(process.env.SIGHTLINE_HUB_PORT ?? 8080);
  const host = options.host ?? process.env.SIGHTLINE_HUB_HOST ?? '127.0.0.1';
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`Expected a port number 0..65535 but received ${port}`);
  }
  const fleet = new FleetState({ maxEdges: options.maxEdges, evictAfterMs: options.evictAfterMs });
  const app = createHubApp({ fleet });
  const log = childLogger('hub');
  const server = serve({ fetch: app.fetch, port, hostname: host });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`Port ${port} on ${host} is in use: pick another with --port`)
          : err,
      ),
    );
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
  log.info({ url }, 'hub listening');
  let closed: Promise<void> | undefined;
  return {
    url,
    fleet,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      return closed;
    },
  };
}
