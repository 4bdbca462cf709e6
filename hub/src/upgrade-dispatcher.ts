/**
 * One listener on the HTTP server's `upgrade` event that hands each WebSocket upgrade to the endpoint registered
 * for its path (the uplink, the media signalling sockets) and refuses every other path with 404.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { childLogger, describeError } from '@sightline/shared';
import type { TokenInfo, TokenService } from './auth/token-service.ts';
import type { HubMetrics } from './hub-metrics.ts';

/** Takes over one upgrade request (answers it or refuses it). */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void | Promise<void>;

export class UpgradeDispatcher {
  readonly #server: Server;
  readonly #routes = new Map<string, UpgradeHandler>();
  readonly #log = childLogger('upgrade');
  readonly #onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {}); // a client that goes away mid-upgrade must not crash the hub
    const path = new URL(req.url ?? '/', 'http://hub').pathname;
    const handler = this.#routes.get(path);
    if (!handler) return refuseUpgrade(socket, 404, 'NOT_FOUND', `no WebSocket endpoint at ${path}`);
    Promise.resolve()
      .then(() => handler(req, socket, head))
      .catch((err) => {
        this.#log.warn({ path, err: describeError(err) }, 'upgrade failed');
        refuseUpgrade(socket, 500, 'INTERNAL', describeError(err));
      });
  };

  constructor(server: Server) {
    this.#server = server;
    server.on('upgrade', this.#onUpgrade);
  }

  /** Routes upgrades of `path` to `handler`; returns a function that removes the route. */
  handle(path: string, handler: UpgradeHandler): () => void {
    if (this.#routes.has(path)) throw new TypeError(`a WebSocket endpoint is already registered at ${path}`);
    this.#routes.set(path, handler);
    return () => {
      if (this.#routes.get(path) === handler) this.#routes.delete(path);
    };
  }

  /** Stops listening for upgrades. */
  close(): void {
    this.#server.off('upgrade', this.#onUpgrade);
    this.#routes.clear();
  }
}

const REASONS: Record<number, string> = {
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Answers an upgrade request with an HTTP error and the JSON error body, then closes the socket. */
export function refuseUpgrade(socket: Duplex, status: number, code: string, message: string): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/**
 * Checks the edge credential of an upgrade request (`Authorization: Bearer`, role `edge`); refuses the upgrade
 * (401/403/503) and resolves undefined when it does not hold one. `what` names the endpoint in the messages.
 */
export async function edgeCredential(
  req: IncomingMessage,
  socket: Duplex,
  tokens: TokenService,
  what: string,
  metrics?: HubMetrics,
): Promise<(TokenInfo & { edgeId: string }) | undefined> {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!m) {
    refuseUpgrade(socket, 401, 'UNAUTHORIZED', `${what} needs an edge credential (Authorization: Bearer)`);
    return undefined;
  }
  let verdict: Awaited<ReturnType<TokenService['verify']>>;
  try {
    verdict = await tokens.verify(m[1]!);
  } catch (err) {
    refuseUpgrade(socket, 503, 'STORE_UNAVAILABLE', describeError(err));
    return undefined;
  }
  if (typeof verdict === 'string') {
    metrics?.authRefused.inc({ reason: verdict });
    refuseUpgrade(socket, 401, 'UNAUTHORIZED', `credential refused (${verdict})`);
    return undefined;
  }
  if (verdict.role !== 'edge' || !verdict.edgeId) {
    metrics?.authRefused.inc({ reason: 'role' });
    refuseUpgrade(
      socket,
      403,
      'FORBIDDEN',
      `${what} needs an edge credential; this token has ${verdict.role}`,
    );
    return undefined;
  }
  return { ...verdict, edgeId: verdict.edgeId };
}
