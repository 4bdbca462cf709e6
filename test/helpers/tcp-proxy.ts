/**
 * A TCP proxy for fault tests: listens on 127.0.0.1 (port 0 picks one) and pipes every connection to a target.
 * `cut()` destroys every open connection and stops listening (new connections are refused, like a database
 * that went away); `restore()` listens again on the same port.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

export interface TcpProxy {
  /** The port the proxy listens on (kept across cut/restore). */
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** True between cut() and restore(). */
  readonly isCut: boolean;
  /** Destroys every connection and refuses new ones until restore(). */
  cut(): Promise<void>;
  /** Accepts connections again (on the same port). */
  restore(): Promise<void>;
  /** Destroys every connection and stops listening for good. */
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  let cut = false;
  let port = 0;
  let server: Server | undefined;

  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };

  const onConnection = (client: Socket) => {
    if (cut) {
      client.destroy();
      return;
    }
    accepted++;
    const upstream = tcpConnect(target.port, target.host);
    track(client);
    track(upstream);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  };

  const listen = async () => {
    const s = createServer(onConnection);
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        s.off('error', reject);
        resolve();
      });
    });
    port = (s.address() as { port: number }).port;
    server = s;
  };

  const stopListening = async () => {
    const s = server;
    server = undefined;
    for (const sock of sockets) sock.destroy();
    sockets.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  await listen();
  return {
    get port() {
      return port;
    },
    get accepted() {
      return accepted;
    },
    get isCut() {
      return cut;
    },
    async cut() {
      cut = true;
      await stopListening();
    },
    async restore() {
      if (!cut) return;
      await listen();
      cut = false;
    },
    async close() {
      cut = true;
      await stopListening();
    },
  };
}
