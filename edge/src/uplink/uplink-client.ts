/**
 * The edge's uplink connection to the hub: one WebSocket carrying msgpack frames (see shared/src/uplink.ts).
 *
 * Every batch goes to the outbox first, then on the wire (at most `maxInFlight` unacked); after each (re)connect,
 * once the hub's `welcome` has arrived, everything in the outbox is (re)sent in order. Acks delete from the outbox.
 * Reconnects with backoff, logging one warning per outage and one line when connected again.
 */
import { cpus, loadavg } from 'node:os';
import { Decoder, Encoder } from '@msgpack/msgpack';
import {
  type Batch,
  type Command,
  CommandSchema,
  childLogger,
  describeError,
  type EdgeLoad,
  HubMessageSchema,
  type InferRequest,
  TypedEmitter,
  UPLINK_MAX_FRAME_BYTES,
  UPLINK_PATH,
  UPLINK_PROTOCOL,
  type UplinkError,
  type Welcome,
} from '@sightline/shared';
import WebSocket from 'ws';
import { Backoff } from '../net/backoff.ts';
import { closeSocket, openHubSocket } from '../net/hub-socket.ts';
import type { Outbox, OutboxEntry } from './outbox.ts';
import type {
  CommandOutcome,
  UplinkClientEvents,
  UplinkClientOptions,
  UplinkStats,
} from './uplink-options.ts';

export type {
  CommandOutcome,
  UplinkClientEvents,
  UplinkClientOptions,
  UplinkStats,
} from './uplink-options.ts';

const encoder = new Encoder({ ignoreUndefined: true });
const decoder = new Decoder();

/** The uplink WebSocket URL of a hub: http(s)://host/... -> ws(s)://host/api/v1/uplink. */
export function uplinkUrl(hubUrl: string): string {
  const url = new URL(UPLINK_PATH, hubUrl);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  else if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new TypeError(`hub URL must be http(s):// or ws(s):// but is ${hubUrl}`);
  }
  return url.href;
}

/** The hub message types this edge knows (HubMessageSchema's discriminators). */
const HUB_MESSAGE_TYPES = new Set(['welcome', 'ack', 'command', 'error', 'inferred']);
/** Bytes queued on the socket beyond which offload requests are refused (the link is the bottleneck). */
const OFFLOAD_MAX_BUFFERED = 8 << 20;

export class UplinkClient extends TypedEmitter<UplinkClientEvents> {
  readonly url: string;
  readonly maxInFlight: number;
  readonly #o: UplinkClientOptions;
  readonly #backoff: Backoff;
  readonly #outbox: Outbox;
  readonly #log = childLogger('uplink');
  #ws?: WebSocket;
  #welcomed = false;
  #closed = false;
  #started = false;
  /** Batches sent on this connection and not acked yet, by outbox key. */
  readonly #inFlight = new Map<string, OutboxEntry>();
  /** Ordinal of the last outbox entry sent on this connection. */
  #cursor = 0;
  #reconnectTimer?: NodeJS.Timeout;
  #heartbeatTimer?: NodeJS.Timeout;
  #helloTimer?: NodeJS.Timeout;
  #lastHeard = 0;
  #deadAfterMs = 0;
  /** Set while the hub is unreachable (one warning per outage). */
  #outageSince?: number;
  #authRefused = false;
  #tlsRefused = false;
  #everConnected = false;
  #badFrames = 0;
  #stats = { sent: 0, acked: 0, rejected: 0, reconnects: 0 };

  constructor(options: UplinkClientOptions) {
    super();
    this.#o = options;
    this.url = uplinkUrl(options.hubUrl);
    this.maxInFlight = options.maxInFlight ?? 64;
    this.#backoff = new Backoff(options.backoff);
    this.#outbox = options.outbox;
  }

  /** True while connected and welcomed by the hub. */
  get connected(): boolean {
    return this.#welcomed;
  }

  /** Starts connecting (and reconnecting until `close()`). */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#connect();
  }

  /** Queues a batch in the outbox and sends it when connected (and under maxInFlight). */
  send(batch: Batch): void {
    const bytes = encoder.encode(batch);
    if (bytes.length > UPLINK_MAX_FRAME_BYTES) {
      this.#stats.rejected++;
      this.#log.error(
        { streamId: batch.streamId, seq: batch.seq, bytes: bytes.length, max: UPLINK_MAX_FRAME_BYTES },
        'batch larger than the hub accepts: not sent',
      );
      return;
    }
    this.#outbox.append({ streamId: batch.streamId, run: batch.run, seq: batch.seq }, bytes);
    this.#pump();
  }

  /**
   * Sends an overflow request now (never through the outbox: it is worthless after its deadline). False when not
   * connected, or when the socket already holds more than 8 MiB unsent (the link is the bottleneck).
   */
  sendInfer(request: InferRequest): boolean {
    const ws = this.#ws;
    if (!this.#welcomed || !ws || ws.readyState !== ws.OPEN || ws.bufferedAmount > OFFLOAD_MAX_BUFFERED)
      return false;
    try {
      this.#sendMessage(ws, request);
      return true;
    } catch (err) {
      this.#log.warn({ err: describeError(err) }, 'cannot send an overflow request');
      return false;
    }
  }

  /** Stops reconnecting and closes the socket gracefully; the outbox is kept for the next process. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    await closeSocket(this.#ws, 'edge shutting down');
  }

  stats(): UplinkStats {
    return {
      connected: this.#welcomed,
      ...this.#stats,
      outboxMessages: this.#outbox.size,
      outboxBytes: this.#outbox.bytes,
      dropped: this.#outbox.dropped,
    };
  }

  #connect(): void {
    if (this.#closed) return;
    const { ws, fail } = openHubSocket(
      this.url,
      this.#o.token,
      {
        maxPayload: UPLINK_MAX_FRAME_BYTES,
        handshakeTimeoutMs: this.#o.helloTimeoutMs ?? 10_000,
        tls: this.#o.tls,
      },
      (socket, reason, status, tlsFailed) => this.#onClose(socket, reason, status, tlsFailed),
    );
    this.#ws = ws;
    ws.on('open', () => {
      this.#lastHeard = Date.now();
      this.#helloTimer = setTimeout(() => fail('no welcome from the hub'), this.#o.helloTimeoutMs ?? 10_000);
      try {
        this.#sendMessage(ws, {
          t: 'hello',
          protocol: UPLINK_PROTOCOL,
          edgeId: this.#o.edgeId,
          run: this.#o.run,
          ...this.#o.hello(),
        });
      } catch (err) {
        fail(`cannot send hello: ${describeError(err)}`);
      }
    });
    ws.on('message', (data, isBinary) => this.#onFrame(ws, data, isBinary));
    ws.on('pong', () => {
      this.#lastHeard = Date.now();
    });
  }

  #onClose(ws: WebSocket, reason: string, status: number | undefined, tlsFailed = false): void {
    if (ws !== this.#ws) return;
    clearTimeout(this.#helloTimer);
    clearInterval(this.#heartbeatTimer);
    const wasWelcomed = this.#welcomed;
    this.#welcomed = false;
    this.#inFlight.clear();
    this.#cursor = 0;
    if (wasWelcomed) this.emit('disconnected', reason);
    if (this.#closed) return;
    if (!wasWelcomed) this.emit('connect-failed', reason);
    const authRefused = status === 401 || status === 403;
    if (tlsFailed) {
      // Not a passing outage: nothing changes until the hub's certificate or hub.ca does. Said once, retried slowly.
      if (!this.#tlsRefused)
        this.#log.error({ hub: this.#o.hubUrl }, `${reason} (retrying at the slowest backoff)`);
    } else if (authRefused) {
      if (!this.#authRefused) {
        this.#log.error(
          { hub: this.#o.hubUrl, edgeId: this.#o.edgeId, status },
          'credential refused by hub: check the edge token (retrying at the slowest backoff)',
        );
      }
    } else if (this.#outageSince === undefined) {
      this.#log.warn(
        { hub: this.#o.hubUrl, reason, outbox: this.#outbox.size },
        wasWelcomed ? 'uplink to hub lost; batches wait in the outbox' : 'cannot reach hub',
      );
    }
    this.#authRefused = authRefused;
    this.#tlsRefused = tlsFailed;
    this.#outageSince ??= Date.now();
    const delay = authRefused || tlsFailed ? this.#backoff.maxDelayMs : this.#backoff.next();
    this.#reconnectTimer = setTimeout(() => this.#connect(), delay);
  }

  #onFrame(ws: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
    if (ws !== this.#ws) return;
    this.#lastHeard = Date.now();
    let msg: unknown;
    if (!isBinary) {
      this.#badFrame('undecodable frame: text frame');
      return;
    }
    try {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      msg = decoder.decode(buf);
    } catch (err) {
      this.#badFrame(`undecodable frame: ${describeError(err)}`);
      return;
    }
    if (typeof msg !== 'object' || msg === null || !('t' in msg)) {
      this.#badFrame('frame is not a message');
      return;
    }
    const parsed = HubMessageSchema.safeParse(msg);
    if (!parsed.success) {
      const m = msg as Record<string, unknown>;
      if (m.t === 'command') {
        // A command with an id is answered (COMMAND_INVALID), so the hub is not left waiting.
        const id = typeof m.id === 'string' && m.id.length > 0 && m.id.length <= 64 ? m.id : undefined;
        const invalid =
          CommandSchema.safeParse(m)
            .error?.issues.map((i) => i.message)
            .join('; ') ?? '';
        if (id) void this.#onCommand(ws, id, { invalid, op: m.op });
        else this.#badFrame('command without id');
      } else if (typeof m.t === 'string' && HUB_MESSAGE_TYPES.has(m.t)) {
        const issue = parsed.error.issues[0];
        this.#badFrame(
          `malformed ${m.t}: ${issue ? `${issue.path.join('.') || '(message)'}: ${issue.message}` : ''}`,
        );
      } else {
        this.#badFrame(`unknown message type ${JSON.stringify(m.t)}`);
      }
      return;
    }
    const m = parsed.data;
    switch (m.t) {
      case 'welcome':
        this.#onWelcome(ws, m);
        return;
      case 'ack':
        this.#onAck(m.streamId, m.run, m.seq);
        return;
      case 'command':
        void this.#onCommand(ws, m.id, m);
        return;
      case 'error':
        this.#onError(m);
        return;
      case 'inferred':
        this.emit('inferred', m);
        return;
    }
  }

  #badFrame(what: string): void {
    this.#badFrames++;
    // The first one, then every 100th: a buggy hub must not flood the log.
    if (this.#badFrames === 1 || this.#badFrames % 100 === 0) {
      this.#log.warn({ hub: this.#o.hubUrl, badFrames: this.#badFrames }, `ignoring hub frame: ${what}`);
    }
  }

  #onWelcome(ws: WebSocket, m: Welcome): void {
    if (this.#welcomed) return;
    clearTimeout(this.#helloTimer);
    if (Math.floor(m.protocol) !== UPLINK_PROTOCOL) {
      this.#log.warn(
        { hub: m.protocol, edge: UPLINK_PROTOCOL },
        'hub speaks another uplink protocol version',
      );
    }
    const heartbeatMs =
      Number.isFinite(m.heartbeatMs) && m.heartbeatMs > 0 ? Math.max(20, m.heartbeatMs) : 5000;
    this.#welcomed = true;
    this.#backoff.reset();
    this.#authRefused = false;
    this.#tlsRefused = false;
    if (this.#outageSince !== undefined && this.#everConnected) {
      this.#log.info(
        { hub: this.#o.hubUrl, downMs: Date.now() - this.#outageSince, outbox: this.#outbox.size },
        'uplink to hub connected again',
      );
    } else {
      this.#log.info({ hub: this.#o.hubUrl, outbox: this.#outbox.size }, 'uplink to hub connected');
    }
    if (this.#everConnected) this.#stats.reconnects++;
    this.#everConnected = true;
    this.#outageSince = undefined;
    this.#deadAfterMs = Math.max(this.#o.deadAfterMs ?? 15_000, 3 * heartbeatMs);
    this.#heartbeatTimer = setInterval(() => this.#heartbeat(ws), heartbeatMs);
    this.emit('connected');
    this.#pump();
  }

  #heartbeat(ws: WebSocket): void {
    if (ws !== this.#ws || !this.#welcomed) return;
    if (Date.now() - this.#lastHeard > this.#deadAfterMs) {
      this.#log.warn({ hub: this.#o.hubUrl }, 'hub silent: dropping the connection');
      ws.terminate();
      return;
    }
    try {
      const mem = process.memoryUsage.rss() / (1024 * 1024);
      const load: EdgeLoad = {
        cpu: Math.max(0, loadavg()[0]! / Math.max(1, cpus().length)),
        rssMb: Math.round(mem * 10) / 10,
        outboxMessages: this.#outbox.size,
        outboxDropped: this.#outbox.dropped,
      };
      this.#sendMessage(ws, { t: 'heartbeat', load, ...this.#o.heartbeat() });
      ws.ping();
    } catch (err) {
      this.#log.warn({ err: describeError(err) }, 'cannot send heartbeat');
    }
  }

  #onAck(streamId: string, run: string, seq: number): void {
    this.#inFlight.delete(`${streamId}\u0000${run}\u0000${seq}`);
    if (this.#outbox.ack(streamId, run, seq)) {
      this.#stats.acked++;
      this.emit('acked', streamId, run, seq);
    }
    this.#pump();
  }

  #onError(m: UplinkError): void {
    const { code, message, streamId, run } = m;
    if (m.seq === undefined) {
      if (code === 'STORE_UNAVAILABLE' || code === 'STORE_FAILED') {
        // "Not stored, retry": nothing is dropped; the hub closes and everything unacked is replayed after the
        // reconnect backoff. One line per outage (the close that follows logs the outage itself).
        if (this.#outageSince === undefined) {
          this.#log.warn(
            { hub: this.#o.hubUrl, code, message, outbox: this.#outbox.size },
            'hub cannot store batches now: they stay in the outbox and are retried',
          );
        }
        return;
      }
      this.#log.warn({ hub: this.#o.hubUrl, code, message }, 'hub reported an error');
      return;
    }
    // The hub names stream, run and seq of the refused batch (an older hub may leave out the run: then the
    // oldest batch in flight with this stream and seq).
    let found: OutboxEntry | undefined;
    for (const e of this.#inFlight.values()) {
      if (
        e.key.seq === m.seq &&
        (streamId === undefined || e.key.streamId === streamId) &&
        (run === undefined || e.key.run === run)
      ) {
        found = e;
        break;
      }
    }
    if (!found) {
      this.#log.warn({ code, message, streamId, seq: m.seq }, 'hub refused a batch that is not in flight');
      return;
    }
    const { key } = found;
    this.#inFlight.delete(`${key.streamId}\u0000${key.run}\u0000${key.seq}`);
    if (this.#outbox.ack(key.streamId, key.run, key.seq)) this.#stats.rejected++;
    this.#log.error(
      { ...key, code, message, rejected: this.#stats.rejected },
      'hub refused a batch as malformed: dropped it',
    );
    this.#pump();
  }

  /** Runs command `id` and answers its `result`: `cmd` parsed, or why it failed CommandSchema (COMMAND_INVALID). */
  async #onCommand(
    ws: WebSocket,
    id: string,
    cmd: Command | { invalid: string; op: unknown },
  ): Promise<void> {
    let outcome: CommandOutcome;
    if ('invalid' in cmd) {
      outcome = { ok: false, error: { code: 'COMMAND_INVALID', message: cmd.invalid } };
    } else {
      try {
        outcome = await this.#o.onCommand(cmd);
      } catch (err) {
        outcome = { ok: false, error: { code: 'COMMAND_FAILED', message: describeError(err) } };
      }
    }
    if (ws !== this.#ws || ws.readyState !== WebSocket.OPEN) {
      this.#log.warn({ id, op: cmd.op }, 'connection lost before the command result could be sent');
      return;
    }
    try {
      this.#sendMessage(ws, {
        t: 'result',
        id,
        ok: outcome.ok,
        ...(outcome.error
          ? {
              error: {
                code: String(outcome.error.code).slice(0, 64),
                message: String(outcome.error.message).slice(0, 4096),
              },
            }
          : {}),
        ...(outcome.data ? { data: outcome.data } : {}),
      });
    } catch (err) {
      this.#log.warn({ id, err: describeError(err) }, 'cannot send command result');
    }
  }

  /** Sends outbox entries not yet on the wire, in order, while under maxInFlight. */
  #pump(): void {
    const ws = this.#ws;
    if (!ws || !this.#welcomed || ws.readyState !== WebSocket.OPEN) return;
    const room = this.maxInFlight - this.#inFlight.size;
    if (room <= 0) return;
    for (const entry of this.#outbox.after(this.#cursor, room)) {
      this.#cursor = entry.ordinal;
      let bytes: Uint8Array;
      try {
        bytes = entry.read();
      } catch {
        continue; // dropped from the outbox meanwhile
      }
      this.#inFlight.set(`${entry.key.streamId}\u0000${entry.key.run}\u0000${entry.key.seq}`, entry);
      ws.send(bytes, { binary: true });
      this.#stats.sent++;
    }
  }

  #sendMessage(ws: WebSocket, message: Record<string, unknown>): void {
    ws.send(encoder.encode(message), { binary: true });
  }
}
