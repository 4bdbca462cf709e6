/**
 * A small HTTP server for Prometheus and orchestrators: GET /metrics (the registry's exposition text), GET /health
 * (liveness: 200 while the process answers) and GET /ready (readiness: 200, or 503 with Retry-After when not
 * ready), both with the HealthReport of @sightline/shared.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  describeError,
  type HealthReport,
  healthReport,
  isReady,
  READY_RETRY_AFTER_SECONDS,
} from '@sightline/shared';
import type { Registry } from 'prom-client';
import { VERSION } from '../version.ts';

export interface MetricsServerOptions {
  /** TCP port; 0 picks a free one. Required. */
  port: number;
  /** Address to listen on. Default 127.0.0.1 (this host only). */
  host?: string;
  /** The registry served at /metrics. Required. */
  registry: Registry;
  /**
   * The readiness report of GET /ready, e.g. an EdgeMetrics' `readiness` (its streams, hub link...). Default: a
   * report with no checks (always ready).
   */
  readiness?: () => HealthReport;
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
  const readiness = options.readiness ?? (() => healthReport(VERSION));
  const json = (
    res: import('node:http').ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  };
  const paths = ['/metrics', '/health', '/ready'];
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const get = req.method === 'GET' || req.method === 'HEAD';
    if (path === '/metrics' && get) {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: unknown) => json(res, 500, { error: `metrics failed: ${describeError(err)}` }),
      );
    } else if (path === '/health' && get) {
      json(res, 200, healthReport(VERSION));
    } else if (path === '/ready' && get) {
      let report: HealthReport;
      try {
        report = readiness();
      } catch (err) {
        report = healthReport(VERSION, { readiness: { status: 'unavailable', detail: describeError(err) } });
      }
      if (isReady(report)) json(res, 200, report);
      else json(res, 503, report, { 'retry-after': String(READY_RETRY_AFTER_SECONDS) });
    } else if (paths.includes(path ?? '')) {
      res.setHeader('allow', 'GET, HEAD');
      json(res, 405, { error: `method ${req.method} not allowed` });
    } else {
      json(res, 404, { error: 'not found', paths });
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
