/** Closing a client WebSocket politely, with a deadline. */
import WebSocket from 'ws';

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
