/**
 * The fleet as the hub sees it: every edge the store knows, merged with the live state of connected ones
 * (hello, last heartbeat, load, streams), and the command channel to them.
 *
 * Status comes from heartbeats: `online` while connected with a heartbeat younger than 3 periods, `stale` while
 * the last heartbeat is younger than `offlineAfterMs` (missed heartbeats, or just disconnected), `offline` after.
 */
import { randomUUID } from 'node:crypto';
import {
  type Command,
  type CommandOp,
  type CommandResult,
  type EdgeLoad,
  type Hello,
  SightlineError,
  type StreamStatus,
  storableJson,
  storableText,
} from '@sightline/shared';
import type { HubCluster } from '../cluster/hub-cluster.ts';
import type { RemoteLive } from '../cluster/presence.ts';
import type { Store } from '../store/db.ts';
import {
  deleteEdgeAndStreams,
  type EdgeRecord,
  edgeExists,
  getEdge,
  listEdges,
  saveEdgeConfig,
  saveEdgeHeartbeat,
  saveEdgeHello,
  saveStreams,
} from '../store/edges.ts';
import { countTracksByStream } from '../store/tracks.ts';

/** Heartbeat period the hub asks edges for (ms). */
export const HEARTBEAT_MS = 2_000;

/** An edge's status as listed by the API. */
export type EdgeStatus = 'online' | 'stale' | 'offline';

/** A stream as listed by the API: its live counters (when the edge is connected) and what the store holds. */
export interface StreamView extends Partial<StreamStatus> {
  streamId: string;
  /** Tracks stored for this stream. */
  tracksStored: number;
}

/** An edge as listed by the API. */
export interface EdgeView {
  edgeId: string;
  name: string;
  status: EdgeStatus;
  connected: boolean;
  version: string;
  model?: string;
  provider?: string;
  /** ISO time of the last heartbeat (or hello), if any. */
  lastSeen?: string;
  load?: EdgeLoad;
  streams: StreamView[];
  /** The config the edge last reported. */
  config?: Record<string, unknown>;
  /** The hub holding the edge's connection, when it is another hub of the cluster (Redis). */
  hub?: { id: string; url: string };
}

/** The part of an uplink connection the fleet needs. */
export interface EdgeConnection {
  send(message: Command): void;
  close(code: number, reason: string): void;
}

interface Live {
  conn: EdgeConnection;
  hello: Hello;
  streams: StreamStatus[];
  load?: EdgeLoad;
  lastHeartbeat: number;
}

export interface FleetHubOptions {
  store: Store;
  /** Heartbeat period asked of edges (ms). Default 2000. */
  heartbeatMs?: number;
  /** No heartbeat for this long: offline. Default 30000. */
  offlineAfterMs?: number;
  /** How long a command waits for the edge's answer (ms). Default 10000. */
  commandTimeoutMs?: number;
  /** Clock in ms. Default Date.now. */
  now?: () => number;
  /** Other hubs sharing this fleet (Redis). Default none: this hub is the only one. */
  cluster?: HubCluster;
}

/** Thrown by command(): `EDGE_UNKNOWN`, `EDGE_OFFLINE` or `EDGE_TIMEOUT` (HTTP 404, 409, 504: error-status.ts). */
export class FleetError extends SightlineError {
  declare readonly code: 'EDGE_UNKNOWN' | 'EDGE_OFFLINE' | 'EDGE_TIMEOUT';
  constructor(code: 'EDGE_UNKNOWN' | 'EDGE_OFFLINE' | 'EDGE_TIMEOUT', message: string) {
    super(code, message);
  }
}

export class FleetHub {
  readonly heartbeatMs: number;
  readonly offlineAfterMs: number;
  readonly commandTimeoutMs: number;
  readonly #store: Store;
  readonly #now: () => number;
  readonly #live = new Map<string, Live>();
  /** Last heartbeat of edges no longer connected (so a fresh disconnect shows stale, not offline). */
  readonly #lastSeen = new Map<string, number>();
  readonly #pending = new Map<string, { resolve: (r: CommandResult) => void; timer: NodeJS.Timeout }>();
  /** Throttles heartbeat writes to the store: one per edge per 10 s. */
  readonly #persistedAt = new Map<string, number>();
  readonly #cluster: HubCluster | undefined;

  constructor(options: FleetHubOptions) {
    this.#store = options.store;
    this.heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
    this.offlineAfterMs = options.offlineAfterMs ?? 30_000;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 10_000;
    this.#now = options.now ?? Date.now;
    this.#cluster = options.cluster;
    this.#cluster?.serve(
      (edgeId, op, args) => this.#localCommand(edgeId, op, args),
      (edgeId) => this.#disconnect(edgeId),
    );
  }

  /** Edges connected now. */
  get connectedCount(): number {
    return this.#live.size;
  }

  /**
   * A connection said hello: it becomes the edge's live connection (an older one is closed). What the store
   * cannot hold (a NUL in a stream source or the config) is stored with U+FFFD in its place, never refused: a
   * refused hello would cut the edge off from the hub that could fix its config. Resolves true when something
   * had to be replaced that way.
   */
  async connected(conn: EdgeConnection, hello: Hello): Promise<boolean> {
    const old = this.#live.get(hello.edgeId);
    if (old && old.conn !== conn) old.conn.close(4000, 'replaced by a newer connection of this edge');
    const now = this.#now();
    this.#live.set(hello.edgeId, { conn, hello, streams: hello.streams, lastHeartbeat: now });
    this.#publish(hello.edgeId);
    const status = storableJson({ model: hello.model, provider: hello.provider, streams: hello.streams });
    const config = storableJson(hello.config ?? null);
    const row = {
      version: storableText(hello.version),
      status: status.value,
      config: config.value as Record<string, unknown> | null,
      lastHeartbeat: new Date(now),
    };
    await saveEdgeHello(this.#store, hello.edgeId, row);
    this.#persistedAt.set(hello.edgeId, now);
    await this.#saveStreams(hello.edgeId, hello.streams);
    return status.changed || config.changed || row.version !== hello.version;
  }

  /** A heartbeat from a connected edge. */
  async heartbeat(conn: EdgeConnection, edgeId: string, hb: { load: EdgeLoad; streams: StreamStatus[] }) {
    const live = this.#live.get(edgeId);
    if (!live || live.conn !== conn) return;
    const now = this.#now();
    live.lastHeartbeat = now;
    live.load = hb.load;
    live.streams = hb.streams;
    this.#publish(edgeId);
    if (now - (this.#persistedAt.get(edgeId) ?? 0) >= 10_000) {
      this.#persistedAt.set(edgeId, now);
      await saveEdgeHeartbeat(
        this.#store,
        edgeId,
        new Date(now),
        storableJson({
          model: live.hello.model,
          provider: live.hello.provider,
          streams: hb.streams,
          load: hb.load,
        }).value,
      );
      await this.#saveStreams(edgeId, hb.streams);
    }
  }

  /** The connection closed: pending commands fail at once, the edge turns stale then offline. */
  disconnected(conn: EdgeConnection, edgeId: string): void {
    const live = this.#live.get(edgeId);
    if (!live || live.conn !== conn) return;
    this.#live.delete(edgeId);
    this.#lastSeen.set(edgeId, live.lastHeartbeat);
    this.#cluster?.withdraw(edgeId);
  }

  /** The answer to a command; the config the edge reports running after it is stored with the edge. */
  async commandResult(edgeId: string, result: CommandResult): Promise<void> {
    const p = this.#pending.get(result.id);
    if (!p) return;
    this.#pending.delete(result.id);
    clearTimeout(p.timer);
    const config = result.data?.config;
    if (result.ok && config && typeof config === 'object') {
      await saveEdgeConfig(this.#store, edgeId, storableJson(config).value as Record<string, unknown>).catch(
        () => {},
      );
    }
    p.resolve(result);
  }

  /**
   * Sends a command to a connected edge and waits for its answer; an edge connected to another hub of the
   * cluster gets it through that hub.
   */
  async command(edgeId: string, op: CommandOp, args: Record<string, unknown>): Promise<CommandResult> {
    if (!this.#live.has(edgeId) && this.#cluster) {
      const remote = (await this.#cluster.remote([edgeId])).get(edgeId);
      if (remote) {
        const r = await this.#cluster.command(remote.hubId, edgeId, op, args, this.commandTimeoutMs);
        if (!('failure' in r)) return r;
        const { code, message } = r.failure;
        if (code === 'EDGE_UNKNOWN' || code === 'EDGE_OFFLINE' || code === 'EDGE_TIMEOUT')
          throw new FleetError(code, message);
        if (code === 'HUB_CLOSING') return { t: 'result', id: randomUUID(), ok: false, error: r.failure };
        throw new SightlineError('INTERNAL', message);
      }
    }
    return this.#localCommand(edgeId, op, args);
  }

  /** A command to an edge connected to this hub. */
  async #localCommand(edgeId: string, op: CommandOp, args: Record<string, unknown>): Promise<CommandResult> {
    const live = this.#live.get(edgeId);
    if (!live) {
      if (!(await edgeExists(this.#store, edgeId)))
        throw new FleetError('EDGE_UNKNOWN', `no edge "${edgeId}"`);
      throw new FleetError('EDGE_OFFLINE', `edge "${edgeId}" is not connected; try again when it is online`);
    }
    const id = randomUUID();
    return new Promise<CommandResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(
          new FleetError(
            'EDGE_TIMEOUT',
            `edge "${edgeId}" did not answer within ${this.commandTimeoutMs} ms`,
          ),
        );
      }, this.commandTimeoutMs);
      this.#pending.set(id, { resolve, timer });
      try {
        live.conn.send({ t: 'command', id, op, args });
      } catch (err) {
        clearTimeout(timer);
        this.#pending.delete(id);
        reject(err);
      }
    });
  }

  /** Every edge the store knows, with live state merged in, sorted by id. */
  async list(): Promise<EdgeView[]> {
    const rows = await listEdges(this.#store);
    const counts = await this.#trackCounts();
    const remote = await this.#remote(rows.map((r) => r.id));
    return rows.map((row) => this.#view(row, counts, remote.get(row.id)));
  }

  /** One edge, or undefined. */
  async get(edgeId: string): Promise<EdgeView | undefined> {
    const row = await getEdge(this.#store, edgeId);
    if (!row) return undefined;
    const remote = await this.#remote([edgeId]);
    return this.#view(row, await this.#trackCounts(edgeId), remote.get(edgeId));
  }

  /** Forgets an edge (its stored tracks stay); disconnects it, through the hub holding it if another. False when unknown. */
  async remove(edgeId: string): Promise<boolean> {
    const holder = this.#live.has(edgeId) ? undefined : (await this.#remote([edgeId])).get(edgeId);
    this.#disconnect(edgeId);
    if (holder && this.#cluster) await this.#cluster.drop(holder.hubId, edgeId);
    return deleteEdgeAndStreams(this.#store, edgeId);
  }

  /** Closes the edge's connection to this hub, if it has one, as removed by an admin. */
  #disconnect(edgeId: string): void {
    const live = this.#live.get(edgeId);
    live?.conn.close(4001, 'edge removed by an admin');
    this.#live.delete(edgeId);
    this.#lastSeen.delete(edgeId);
    if (live) this.#cluster?.withdraw(edgeId);
  }

  /** Counts by status, for metrics. */
  async statusCounts(): Promise<Record<EdgeStatus, number>> {
    const out: Record<EdgeStatus, number> = { online: 0, stale: 0, offline: 0 };
    for (const e of await this.list()) out[e.status]++;
    return out;
  }

  /** Fails pending commands (hub shutting down). */
  close(): void {
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      p.resolve({
        t: 'result',
        id,
        ok: false,
        error: { code: 'HUB_CLOSING', message: 'hub is shutting down' },
      });
    }
    this.#pending.clear();
  }

  /** The hub holding an edge's connection when it is another hub of the cluster (for viewer redirects). */
  async holder(edgeId: string): Promise<{ id: string; url: string } | undefined> {
    if (this.#live.has(edgeId)) return undefined;
    const remote = (await this.#remote([edgeId])).get(edgeId);
    return remote ? { id: remote.hubId, url: remote.hubUrl } : undefined;
  }

  /** Live state other hubs publish, for the edges not connected here. */
  async #remote(edgeIds: string[]): Promise<Map<string, RemoteLive>> {
    if (!this.#cluster) return new Map();
    return this.#cluster.remote(edgeIds.filter((id) => !this.#live.has(id)));
  }

  #publish(edgeId: string): void {
    const live = this.#live.get(edgeId);
    if (!this.#cluster || !live) return;
    this.#cluster.publish(edgeId, {
      version: live.hello.version,
      ...(live.hello.model !== undefined ? { model: live.hello.model } : {}),
      ...(live.hello.provider !== undefined ? { provider: live.hello.provider } : {}),
      streams: live.streams,
      ...(live.load ? { load: live.load } : {}),
      lastHeartbeat: live.lastHeartbeat,
    });
  }

  #status(edgeId: string, lastHeartbeat?: number, remote?: RemoteLive): EdgeStatus {
    const now = this.#now();
    const live = this.#live.get(edgeId) ?? remote;
    if (live && now - live.lastHeartbeat <= 3 * this.heartbeatMs) return 'online';
    const last = live?.lastHeartbeat ?? this.#lastSeen.get(edgeId) ?? lastHeartbeat;
    return last !== undefined && now - last <= this.offlineAfterMs ? 'stale' : 'offline';
  }

  #view(row: EdgeRecord, counts: Map<string, number>, remote?: RemoteLive): EdgeView {
    const local = this.#live.get(row.id);
    // An edge connected to another hub: its published state, shaped like a local one.
    const live =
      local ??
      (remote && {
        hello: { version: remote.version, model: remote.model, provider: remote.provider },
        streams: remote.streams,
        load: remote.load,
        lastHeartbeat: remote.lastHeartbeat,
      });
    const stored = (row.status ?? {}) as { model?: string; provider?: string; streams?: StreamStatus[] };
    const streamList = live?.streams ?? stored.streams ?? [];
    const seen = live?.lastHeartbeat ?? this.#lastSeen.get(row.id) ?? row.lastHeartbeat?.getTime();
    const ids = new Set(streamList.map((s) => s.streamId));
    const views: StreamView[] = streamList.map((s) => ({
      ...(live ? s : { streamId: s.streamId, source: s.source, state: s.state }),
      tracksStored: counts.get(`${row.id}\u0000${s.streamId}`) ?? 0,
    }));
    // Streams with stored tracks that the edge no longer runs are still listed.
    for (const [key, n] of counts) {
      const [edgeId, streamId] = key.split('\u0000') as [string, string];
      if (edgeId === row.id && !ids.has(streamId)) views.push({ streamId, tracksStored: n });
    }
    return {
      edgeId: row.id,
      name: row.name,
      status: this.#status(row.id, row.lastHeartbeat?.getTime(), local ? undefined : remote),
      connected: live !== undefined,
      version: live?.hello.version ?? row.version,
      model: live?.hello.model ?? stored.model,
      provider: live?.hello.provider ?? stored.provider,
      ...(seen !== undefined ? { lastSeen: new Date(seen).toISOString() } : {}),
      ...(live?.load ? { load: live.load } : {}),
      streams: views,
      ...(row.config ? { config: row.config as Record<string, unknown> } : {}),
      ...(!local && remote ? { hub: { id: remote.hubId, url: remote.hubUrl } } : {}),
    };
  }

  async #trackCounts(edgeId?: string): Promise<Map<string, number>> {
    const rows = await countTracksByStream(this.#store, edgeId);
    return new Map(rows.map((r) => [`${r.edgeId}\u0000${r.streamId}`, r.n]));
  }

  async #saveStreams(edgeId: string, list: StreamStatus[]): Promise<void> {
    if (!list.length) return;
    const storable = list.map((s) => ({
      streamId: storableText(s.streamId),
      source: storableText(s.source),
      state: storableText(s.state),
    }));
    await saveStreams(this.#store, edgeId, storable, new Date(this.#now()));
  }
}
