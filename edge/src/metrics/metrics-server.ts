/** A small HTTP server for Prometheus: GET /metrics (the registry's exposition text) and GET /health. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describeError } from '@sightline/shared';
import type { Registry } from 'prom-client';

export interface MetricsServerOptions {
  /** TCP port; 0 picks a free one. Required. */
  port: number;
  /** Address to listen on. Default 127.0.0.1 (this host only). */
  host?: string;
  /** The registry served at /metrics. Required. */
  registry: Registry;
}

export interface MetricsServer {
  /** Base URL, e.g. http://127.0.0.1:9464 (append /metrics). */
  readonly url: string;
  /** Stop listening and end open connections. Safe to call twice. */
  close(): Promise<void>;
}

/** Start serving `registry`; rejects when the port cannot be bound. */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { registry, port } = options;
  const host = options.host ?? '127.0.0.1';
  const json = (res: import('node:http').ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const get = req.method === 'GET' || req.method === 'HEAD';
    if (path === '/metrics' && get) {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: unknown) => json(res, 500, { error: `metrics failed: ${describeError(err)}` }),
      );
    } else if (path === '/health' && get) {
      json(res, 200, { status: 'ok' });
    } else if (path === '/metrics' || path === '/health') {
      res.setHeader('allow', 'GET, HEAD');
      json(res, 405, { error: `method ${req.method} not allowed` });
    } else {
      json(res, 404, { error: 'not found', paths: ['/metrics', '/health'] });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shown}:${addr.port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
