/** The edge's client WebSockets to the hub (uplink, media signalling): opening with the credential, closing politely. */
import { describeError } from '@sightline/shared';
import WebSocket from 'ws';
import { describeHubTlsError, type HubTls, tlsConnectOptions } from './hub-tls.ts';

export interface HubSocket {
  ws: WebSocket;
  /** Ends the socket now, with `reason` as the reason `onEnd` gets. */
  fail(reason: string): void;
}

/**
 * Opens `url` with `Authorization: Bearer <token>`. `onEnd(ws, reason, status)` runs once when it has closed, with the
 * best reason known: a refused upgrade ("hub answered the upgrade with HTTP 403", and the status), a fail(), the
 * first error (in plain words for a TLS failure, then `tlsFailed` is true), else the close code and reason.
 * `options.tls` is what is trusted for a wss:// hub's certificate (docs/tls.md).
 */
export function openHubSocket(
  url: string,
  token: string,
  options: { maxPayload: number; handshakeTimeoutMs: number; tls?: HubTls },
  onEnd: (ws: WebSocket, reason: string, status: number | undefined, tlsFailed: boolean) => void,
): HubSocket {
  const ws = new WebSocket(url, {
    headers: { authorization: `Bearer ${token}` },
    maxPayload: options.maxPayload,
    handshakeTimeout: options.handshakeTimeoutMs,
    ...tlsConnectOptions(options.tls),
  });
  let failure: string | undefined;
  let status: number | undefined;
  let tlsFailed = false;
  const fail = (reason: string) => {
    failure = reason;
    ws.terminate();
  };
  ws.on('unexpected-response', (_req, res) => {
    status = res.statusCode;
    res.resume();
    fail(`hub answered the upgrade with HTTP ${res.statusCode}`);
  });
  ws.on('error', (err) => {
    if (failure !== undefined) return;
    const tlsReason = describeHubTlsError(err, options.tls);
    tlsFailed = tlsReason !== undefined;
    failure = tlsReason ?? describeError(err);
  });
  ws.on('close', (code, reasonBuf) => {
    const reason = reasonBuf.toString();
    onEnd(ws, failure ?? `closed (${code}${reason ? ` ${reason}` : ''})`, status, tlsFailed);
  });
  return { ws, fail };
}

/** Closes `ws` with 1000 and `reason` and waits for it; terminates it when still connecting or after `timeoutMs` (default 2000). */
export function closeSocket(ws: WebSocket | undefined, reason: string, timeoutMs = 2000): Promise<void> {
  if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      ws.terminate();
      resolve();
    }, timeoutMs);
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    else ws.close(1000, reason);
  });
}
