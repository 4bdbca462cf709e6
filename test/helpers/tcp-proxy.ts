/**
 * A TCP proxy for fault tests: listens on 127.0.0.1 (port 0 picks one) and relays every connection to a target.
 * The link can be cut (every connection destroyed, new ones refused, like a peer that went away), stalled (the
 * connections stay open but bytes are held in both directions until `resume`, like a network partition that heals
 * before TCP gives up; new connections are accepted and held too), delayed (latency added to every chunk) and
 * throttled (a byte rate per direction). Bytes are never dropped or reordered while a connection lives.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

export interface TcpProxyOptions {
  /** Latency added to every chunk in each direction (ms). Default 0. */
  delayMs?: number;
  /** Most bytes per second in each direction of each connection; 0 is unlimited. Default 0. */
  bytesPerSecond?: number;
  /** Sees every chunk relayed, `up` from client to target (e.g. to cut the link right after a given query). */
  onChunk?: (chunk: Buffer, direction: 'up' | 'down') => void;
}

export interface TcpProxy {
  /** The port the proxy listens on (kept across cut/restore). */
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** True between cut() and restore(). */
  readonly isCut: boolean;
  /** True between stall() and resume(). */
  readonly isStalled: boolean;
  /** Destroys every connection and refuses new ones until restore(). */
  cut(): Promise<void>;
  /** Accepts connections again (on the same port). */
  restore(): Promise<void>;
  /** Holds every byte in both directions (connections stay open) until resume(). */
  stall(): void;
  /** Delivers what was held, in order, and relays again. */
  resume(): void;
  /** Changes latency and rate for bytes relayed from now on. */
  shape(options: TcpProxyOptions): void;
  /** Destroys every connection and stops listening for good. */
  close(): Promise<void>;
}

export async function startTcpProxy(
  target: { host: string; port: number },
  options: TcpProxyOptions = {},
): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const held: Array<() => void> = [];
  let shape = { delayMs: options.delayMs ?? 0, bytesPerSecond: options.bytesPerSecond ?? 0 };
  let accepted = 0;
  let cut = false;
  let stalled = false;
  let port = 0;
  let server: Server | undefined;

  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };

  /** Relays `from` to `to` in order, with the current latency and rate; held while stalled. */
  const relay = (from: Socket, to: Socket, direction: 'up' | 'down') => {
    let releaseAt = 0;
    const write = (chunk: Buffer) => {
      if (to.destroyed) return;
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    };
    const send = (chunk: Buffer) => {
      if (stalled) {
        held.push(() => send(chunk));
        return;
      }
      if (shape.delayMs === 0 && shape.bytesPerSecond === 0 && releaseAt <= Date.now()) {
        write(chunk);
        return;
      }
      const now = Date.now();
      const transmitMs = shape.bytesPerSecond ? (chunk.length / shape.bytesPerSecond) * 1000 : 0;
      releaseAt = Math.max(now + shape.delayMs, releaseAt + transmitMs);
      setTimeout(() => write(chunk), releaseAt - now);
    };
    from.on('data', (chunk: Buffer) => {
      options.onChunk?.(chunk, direction);
      send(chunk);
    });
    from.on('end', () => {
      const end = () => (stalled ? held.push(end) : to.end());
      end();
    });
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
    relay(client, upstream, 'up');
    relay(upstream, client, 'down');
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
    held.length = 0;
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
    get isStalled() {
      return stalled;
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
    stall() {
      stalled = true;
    },
    resume() {
      stalled = false;
      for (const release of held.splice(0)) release();
    },
    shape(next) {
      shape = {
        delayMs: next.delayMs ?? shape.delayMs,
        bytesPerSecond: next.bytesPerSecond ?? shape.bytesPerSecond,
      };
    },
    async close() {
      cut = true;
      await stopListening();
    },
  };
}
