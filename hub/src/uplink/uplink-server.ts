/**
 * The hub end of the edge uplink: a WebSocket endpoint at /api/v1/uplink on the hub's HTTP server.
 *
 * The upgrade needs an edge credential (`Authorization: Bearer`, role `edge`); the hello must name the edge the
 * credential belongs to. Each batch is stored (idempotently) and then acked; batches of one edge are stored in
 * order, different edges in parallel. A frame that is not msgpack or fails the schema gets an `error` message
 * naming the problem (with the batch's seq when it had one) and the connection stays up: one bad message never
 * costs the others. A batch refused for its content (it fails the schema, or the store refuses one of its values)
 * is quarantined first (kept raw for an admin, counted) and then reported with its seq, so the edge drops it and
 * the batches behind it flow on; if even the quarantine cannot be written (the store is away) it is an outage
 * like any other. A batch the hub cannot store for any other reason (the database away, a connection cut, a
 * disk error) is never called malformed: the error carries no seq (STORE_UNAVAILABLE, or STORE_FAILED for an
 * unexpected failure) and the connection closes, so the edge keeps the batch in its outbox and replays it after
 * its reconnect backoff.
 *
 * An `infer` (overflow frames) skips the batch chain and goes to the overflow relay, which answers it with an
 * `inferred` now (unavailable, shed, expired) or once a worker did; answers go to the edge's live connection.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { decode, encode } from '@msgpack/msgpack';
import {
  type Batch,
  childLogger,
  describeError,
  EdgeMessageSchema,
  type HubMessage,
  type Inferred,
  OFFLOAD_FAILURES,
  UPLINK_MAX_FRAME_BYTES,
  UPLINK_PATH,
  UPLINK_PROTOCOL,
} from '@sightline/shared';
import { type WebSocket, WebSocketServer } from 'ws';
import type { TokenService } from '../auth/token-service.ts';
import type { EdgeConnection, FleetHub } from '../fleet/fleet-hub.ts';
import type { HubMetrics } from '../hub-metrics.ts';
import type { OverflowRelay } from '../overflow/overflow-relay.ts';
import type { QuarantineEntry } from '../store/quarantine.ts';
import { classifyStoreError, storeErrorReason } from '../store/store-errors.ts';
import { edgeCredential, type UpgradeDispatcher } from '../upgrade-dispatcher.ts';

/** Stores one batch; resolves once it is durable. */
export type BatchStore = (edgeId: string, batch: Batch) => Promise<{ points: number }>;

/** Keeps a batch refused for its content; true when it was new. Rejects when the store cannot take it now. */
export type BatchQuarantine = (entry: QuarantineEntry) => Promise<boolean>;

/** How a refused message is reported: the batch it was, when it was one. */
type RejectExtra = { seq?: number; streamId?: string; run?: string };

export interface UplinkServerOptions {
  /** Where the hub's WebSocket upgrades are routed; the uplink registers its path there. */
  upgrades: UpgradeDispatcher;
  tokens: TokenService;
  fleet: FleetHub;
  storeBatch: BatchStore;
  /** Where batches refused for their content go (see the module comment). */
  quarantine: BatchQuarantine;
  metrics?: HubMetrics;
  /** Where `infer` requests go (docs/overflow.md); without it each is answered OVERFLOW_UNAVAILABLE. */
  overflow?: OverflowRelay;
}

export class UplinkServer {
  readonly #wss: WebSocketServer;
  readonly #opts: UplinkServerOptions;
  readonly #log = childLogger('uplink');
  readonly #unregister: () => void;
  /** The live connection of each edge that said hello (the latest one when it reconnected). */
  readonly #live = new Map<string, (msg: HubMessage) => void>();

  constructor(options: UplinkServerOptions) {
    this.#opts = options;
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: UPLINK_MAX_FRAME_BYTES });
    this.#unregister = options.upgrades.handle(UPLINK_PATH, (req, socket, head) =>
      this.#upgrade(req, socket, head),
    );
  }

  /** Sends an overflow answer to `edgeId`'s live connection; false when it has none. */
  deliver(edgeId: string, message: Inferred): boolean {
    const send = this.#live.get(edgeId);
    if (!send) return false;
    send(message);
    return true;
  }

  /** Closes every uplink connection (edges reconnect to the next hub) and stops accepting new ones. */
  async close(): Promise<void> {
    this.#unregister();
    for (const ws of this.#wss.clients) ws.close(1001, 'hub shutting down');
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    for (const ws of this.#wss.clients) ws.terminate();
  }

  async #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const cred = await edgeCredential(req, socket, this.#opts.tokens, 'the uplink', this.#opts.metrics);
    if (!cred) return;
    const edgeId = cred.edgeId;
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#serve(ws, edgeId));
  }

  #serve(ws: WebSocket, edgeId: string): void {
    const { fleet, metrics } = this.#opts;
    const send = (msg: HubMessage) => {
      if (ws.readyState === ws.OPEN) ws.send(encode(msg));
    };
    const conn: EdgeConnection = { send, close: (code, reason) => ws.close(code, reason) };
    let helloed = false;
    /** Batches of this connection are stored one after another, in arrival order. */
    let chain: Promise<void> = Promise.resolve();
    metrics?.uplinkConnections.inc();

    const reject = (code: string, message: string, extra: RejectExtra = {}) => {
      metrics?.uplinkRejected.inc({ code });
      send({ t: 'error', code, message, ...extra });
    };
    /** Runs `task` after everything this connection queued before; skipped once the connection closed. */
    const queue = (task: () => Promise<boolean>) => {
      chain = chain.then(async () => {
        // Closed after a batch could not be stored: the edge replays this one on its next connection.
        if (ws.readyState !== ws.OPEN) return;
        // Not stored (store down): close so the edge backs off and replays everything unacked on its next one.
        if (!(await task())) ws.close(1011, 'hub store unavailable');
      });
    };

    ws.on('message', (data, isBinary) => {
      const receivedAt = Date.now();
      if (!isBinary) return reject('BAD_FRAME', 'uplink frames are binary msgpack');
      let raw: unknown;
      try {
        raw = decode(data as Buffer);
      } catch (err) {
        return reject('BAD_FRAME', `not msgpack: ${describeError(err)}`);
      }
      const parsed = EdgeMessageSchema.safeParse(raw);
      if (!parsed.success) {
        const r = raw as { t?: unknown; seq?: unknown; streamId?: unknown; run?: unknown } | null;
        const issue = parsed.error.issues[0]!;
        const message = `${issue.path.join('.') || '(message)'}: ${issue.message}`;
        const extra: RejectExtra = {
          ...(typeof r?.seq === 'number' ? { seq: r.seq } : {}),
          ...(typeof r?.streamId === 'string' ? { streamId: r.streamId } : {}),
          ...(typeof r?.run === 'string' ? { run: r.run } : {}),
        };
        if (r?.t === 'infer') {
          // The edge waits for exactly one answer per id: a refused request gets its FAILED answer now.
          const id = (r as { id?: unknown }).id;
          reject('BAD_MESSAGE', message, extra);
          if (typeof id === 'string' && id.length > 0 && id.length <= 64) {
            const error = { code: OFFLOAD_FAILURES.FAILED, message: `infer refused: ${message}` };
            send({ t: 'inferred', id, ok: false, error });
          }
          return;
        }
        if (r?.t !== 'batch') return reject('BAD_MESSAGE', message, extra);
        // A batch the hub will never store: kept in the quarantine (in order with this edge's other batches).
        const entry = { edgeId, streamId: r.streamId, run: r.run, seq: r.seq, payload: data as Buffer };
        queue(() => this.#refuse({ ...entry, code: 'BAD_MESSAGE', reason: message }, extra, reject));
        return;
      }
      const msg = parsed.data;
      metrics?.uplinkMessages.inc({ type: msg.t });
      if (msg.t === 'hello') {
        if (msg.edgeId !== edgeId) {
          reject('EDGE_MISMATCH', `this credential belongs to edge "${edgeId}", not "${msg.edgeId}"`);
          ws.close(4003, 'edge id mismatch');
          return;
        }
        if (msg.protocol !== UPLINK_PROTOCOL) {
          reject('PROTOCOL', `hub speaks uplink protocol ${UPLINK_PROTOCOL}, edge sent ${msg.protocol}`);
          ws.close(4002, 'protocol mismatch');
          return;
        }
        chain = chain.then(async () => {
          try {
            const sanitized = await fleet.connected(conn, msg);
            helloed = true;
            this.#live.set(edgeId, send);
            send({ t: 'welcome', protocol: UPLINK_PROTOCOL, heartbeatMs: fleet.heartbeatMs });
            if (sanitized) {
              // Not fatal: the edge is connected and its config can be fixed (e.g. the bad stream removed).
              this.#log.warn({ edge: edgeId }, 'hello held text the store cannot hold: stored with U+FFFD');
              send({
                t: 'error',
                code: 'HELLO_SANITIZED',
                message:
                  'the hello held text the store cannot hold (NUL, unpaired surrogates): stored with U+FFFD',
              });
            }
            this.#log.info({ edge: edgeId, run: msg.run, version: msg.version }, 'edge connected');
          } catch (err) {
            this.#log.warn({ edge: edgeId, err: storeErrorReason(err) }, 'cannot record the edge connection');
            reject('STORE_UNAVAILABLE', storeErrorReason(err));
            ws.close(1011, 'hub store unavailable');
          }
        });
        return;
      }
      if (!helloed) return reject('NO_HELLO', 'send hello first');
      if (msg.t === 'heartbeat') {
        fleet
          .heartbeat(conn, edgeId, msg)
          .catch((err) => this.#log.warn({ err: describeError(err) }, 'heartbeat'));
      } else if (msg.t === 'result') {
        void fleet.commandResult(edgeId, msg);
      } else if (msg.t === 'infer') {
        // Not in the batch chain: an infer never waits behind the store.
        const { overflow } = this.#opts;
        if (overflow) void overflow.submit(edgeId, msg, data as Buffer, receivedAt);
        else {
          const error = { code: OFFLOAD_FAILURES.UNAVAILABLE, message: 'the hub has no overflow relay' };
          send({ t: 'inferred', id: msg.id, ok: false, error });
        }
      } else {
        queue(() => this.#store(edgeId, msg, data as Buffer, send, reject));
      }
    });
    ws.on('close', () => {
      metrics?.uplinkConnections.dec();
      if (this.#live.get(edgeId) === send) this.#live.delete(edgeId);
      fleet.disconnected(conn, edgeId);
    });
    ws.on('error', (err) => this.#log.warn({ edge: edgeId, err: describeError(err) }, 'uplink socket error'));
  }

  async #store(
    edgeId: string,
    batch: Batch,
    payload: Uint8Array,
    send: (m: HubMessage) => void,
    reject: (code: string, message: string, extra?: RejectExtra) => void,
  ): Promise<boolean> {
    const started = performance.now();
    try {
      const { points } = await this.#opts.storeBatch(edgeId, batch);
      this.#opts.metrics?.pointsStored.inc(points);
      this.#opts.metrics?.batchSeconds.observe((performance.now() - started) / 1000);
      send({ t: 'ack', streamId: batch.streamId, run: batch.run, seq: batch.seq });
      return true;
    } catch (err) {
      // Only a batch whose own content the store refuses is reported with its seq (the edge drops it). Anything
      // else (the store unreachable, a connection cut mid-transaction, a disk error, a hub bug) is "not stored,
      // retry": reported without a seq, and the connection closes so the edge backs off and replays every
      // unacked batch on its next one. Storing is idempotent, so a replay never doubles anything.
      const { code, content, reason } = classifyStoreError(err);
      const key = { seq: batch.seq, streamId: batch.streamId, run: batch.run };
      if (content) return this.#refuse({ edgeId, ...key, code, reason, payload }, key, reject);
      this.#log.warn(
        { edge: edgeId, stream: batch.streamId, seq: batch.seq, code, err: reason },
        'batch not stored: the edge will retry',
      );
      reject(code, reason);
      return false;
    }
  }

  /**
   * A batch refused for its content: quarantined, then reported with its seq (the edge drops it). False (an
   * outage: reported without a seq, the edge keeps the batch and retries) when the quarantine cannot be written.
   */
  async #refuse(
    entry: QuarantineEntry,
    extra: RejectExtra,
    reject: (code: string, message: string, extra?: RejectExtra) => void,
  ): Promise<boolean> {
    const where = { edge: entry.edgeId, stream: extra.streamId, run: extra.run, seq: extra.seq };
    try {
      const added = await this.#opts.quarantine(entry);
      if (added) this.#opts.metrics?.uplinkQuarantined.inc({ code: entry.code });
    } catch (err) {
      const { code, reason } = classifyStoreError(err);
      const why = code === 'STORE_UNAVAILABLE' ? code : 'STORE_FAILED';
      this.#log.warn({ ...where, code, err: reason }, 'refused batch not quarantined: the edge will retry');
      reject(why, `batch refused (${entry.reason}) but not quarantined: ${reason}`);
      return false;
    }
    this.#log.warn({ ...where, code: entry.code, err: entry.reason }, 'batch refused and quarantined');
    reject(entry.code, entry.reason, extra);
    return true;
  }
}
