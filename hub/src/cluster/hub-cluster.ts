/**
 * Several hubs on one PostgreSQL serving one fleet, through Redis: presence (presence.ts: each hub publishes the
 * live state of the edges connected to it, and reads the others') and commands across hubs (a command for an edge
 * connected to another hub is published on that hub's pub/sub channel; that hub runs it on the edge's connection
 * and publishes the answer on the asking hub's channel). Without Redis there is no HubCluster: the hub is the
 * single process it always was.
 */
import { randomUUID } from 'node:crypto';
import {
  type ClusterMessage,
  ClusterMessageSchema,
  type CommandOp,
  type CommandResult,
  childLogger,
  describeError,
} from '@sightline/shared';
import type { Redis } from 'ioredis';
import { closeRedisClient, createRedisClient } from '../redis-client.ts';
import { clusterKeys, publishPresence, type RemoteLive, readPresence, withdrawPresence } from './presence.ts';

/** Why a command sent to another hub failed: a FleetError code (EDGE_OFFLINE, EDGE_TIMEOUT...) and message. */
export interface RemoteFailure {
  failure: { code: string; message: string };
}

/** Runs a command on an edge connected to this hub (FleetHub's local path); throws a FleetError otherwise. */
export type LocalCommand = (
  edgeId: string,
  op: CommandOp,
  args: Record<string, unknown>,
) => Promise<CommandResult>;

type Message = ClusterMessage;

/** What a Redis outage means for the cluster (its log lines say so). */
const CLUSTER_DOWN = 'each hub sees only its own edges; commands for edges on other hubs answer EDGE_OFFLINE';

export interface HubClusterOptions {
  /** Redis URL. */
  redis: string;
  /** Key prefix (the overflow one). */
  prefix: string;
  /** This hub's id (the overflow relay's). */
  hubId: string;
  /** The URL other hubs send viewers and clients to; settable once the hub listens. */
  publicUrl?: string;
  /** How long an edge's record outlives its last heartbeat (ms). */
  ttlMs: number;
}

export class HubCluster {
  readonly hubId: string;
  publicUrl: string;
  readonly #ttlMs: number;
  readonly #keys: ReturnType<typeof clusterKeys>;
  readonly #redis: Redis;
  readonly #sub: Redis;
  readonly #log = childLogger('cluster');
  readonly #pending = new Map<
    string,
    { resolve: (r: CommandResult | RemoteFailure) => void; timer: NodeJS.Timeout }
  >();
  #local: LocalCommand | undefined;
  #drop: ((edgeId: string) => void) | undefined;
  /** Told of tokens revoked on other hubs (the token service drops its cached verifications). */
  onRevoked: ((what: { id?: string; edgeId?: string }) => void) | undefined;
  /** Presence writes in flight (close lets them finish, so a closing hub's edges do not linger online). */
  readonly #writes = new Set<Promise<unknown>>();
  #closed = false;

  constructor(options: HubClusterOptions) {
    this.hubId = options.hubId;
    this.publicUrl = options.publicUrl ?? '';
    this.#ttlMs = options.ttlMs;
    this.#keys = clusterKeys(options.prefix);
    this.#redis = createRedisClient(options.redis, { name: 'cluster', whileDown: CLUSTER_DOWN });
    this.#sub = createRedisClient(options.redis, {
      name: 'cluster-sub',
      commandTimeoutMs: 0,
      whileDown: CLUSTER_DOWN,
    });
    const channel = this.#keys.hub(this.hubId);
    // Subscribed at every (re)connect: without an offline queue, a subscribe before ready would be refused.
    this.#sub.on('ready', () => {
      this.#sub
        .subscribe(channel, this.#keys.all)
        .catch((err) => this.#log.warn({ err: describeError(err) }, 'subscribe failed'));
    });
    this.#sub.on('message', (_channel: string, text: string) => this.#onMessage(text));
  }

  /** Resolves once both connections are ready, or after `ms` (Redis may come later). */
  async ready(ms = 2000): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until && !this.#closed) {
      if (this.#redis.status === 'ready' && this.#sub.status === 'ready') {
        // The subscription is sent on ready: a PING after it on the same connection confirms it took.
        await this.#sub.ping().catch(() => {});
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** The command connection (shared with the rate limiter). */
  get client(): Redis {
    return this.#redis;
  }

  /** Whether Redis answers now. */
  get up(): boolean {
    return this.#redis.status === 'ready';
  }

  /** Sets who runs commands other hubs send here. */
  serve(local: LocalCommand, drop?: (edgeId: string) => void): void {
    this.#drop = drop;
    this.#local = local;
  }

  /** Publishes (or refreshes) an edge's live state; failures are logged by the client and otherwise ignored. */
  publish(edgeId: string, live: Omit<RemoteLive, 'hubId' | 'hubUrl'>): void {
    if (!this.up) return;
    this.#track(
      publishPresence(
        this.#redis,
        this.#keys.edge(edgeId),
        { ...live, hubId: this.hubId, hubUrl: this.publicUrl },
        this.#ttlMs,
      ),
    );
  }

  /** The edge left this hub: its record goes, unless another hub holds it by now. */
  withdraw(edgeId: string): void {
    if (!this.up) return;
    this.#track(withdrawPresence(this.#redis, this.#keys.edge(edgeId), this.hubId));
  }

  #track(write: Promise<unknown>): void {
    const p = write.catch(() => {});
    this.#writes.add(p);
    void p.finally(() => this.#writes.delete(p));
  }

  /** Live state of `edgeIds` held by other hubs (empty while Redis is away). */
  async remote(edgeIds: readonly string[]): Promise<Map<string, RemoteLive>> {
    if (!this.up || !edgeIds.length) return new Map();
    try {
      const found = await readPresence(this.#redis, edgeIds, this.#keys.edge);
      for (const [id, rec] of found) if (rec.hubId === this.hubId) found.delete(id);
      return found;
    } catch {
      return new Map();
    }
  }

  /** Sends a command to `hubId` for its edge and waits up to `timeoutMs` for the answer. */
  async command(
    hubId: string,
    edgeId: string,
    op: CommandOp,
    args: Record<string, unknown>,
    timeoutMs: number,
  ): Promise<CommandResult | RemoteFailure> {
    const id = randomUUID();
    const answer = new Promise<CommandResult | RemoteFailure>((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve({
          failure: {
            code: 'EDGE_TIMEOUT',
            message: `edge "${edgeId}" did not answer within ${timeoutMs} ms`,
          },
        });
      }, timeoutMs);
      this.#pending.set(id, { resolve, timer });
    });
    const message: Message = { t: 'cmd', id, from: this.hubId, edgeId, op, args };
    let receivers = 0;
    try {
      receivers = await this.#redis.publish(this.#keys.hub(hubId), JSON.stringify(message));
    } catch {
      receivers = 0;
    }
    if (receivers === 0) {
      this.#settle(id, {
        failure: {
          code: 'EDGE_OFFLINE',
          message: `edge "${edgeId}" is not connected; try again when it is online`,
        },
      });
    }
    return answer;
  }

  /**
   * Tells `hubId` that the edge was removed, so that it closes the edge's connection; false when no hub got the
   * message (that hub is gone, or Redis is down: the edge's revoked credentials keep it out when it reconnects).
   */
  async drop(hubId: string, edgeId: string): Promise<boolean> {
    const message: Message = { t: 'drop', from: this.hubId, edgeId };
    try {
      return (await this.#redis.publish(this.#keys.hub(hubId), JSON.stringify(message))) > 0;
    } catch (err) {
      this.#log.warn(
        { err: describeError(err), edgeId, hubId },
        'could not tell the hub holding a removed edge',
      );
      return false;
    }
  }

  /** Tells every other hub that tokens were revoked here, so none keeps accepting them from its cache. */
  revoked(what: { id?: string; edgeId?: string }): void {
    const message: Message = { t: 'revoked', from: this.hubId, ...what };
    this.#track(
      this.#redis.publish(this.#keys.all, JSON.stringify(message)).catch((err) => {
        this.#log.warn({ err: describeError(err), ...what }, 'could not tell the other hubs of a revocation');
      }),
    );
  }

  /** Fails waiting commands, lets presence writes finish, and disconnects. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.race([Promise.all(this.#writes), new Promise((r) => setTimeout(r, 1000))]);
    for (const id of [...this.#pending.keys()])
      this.#settle(id, { failure: { code: 'HUB_CLOSING', message: 'hub is shutting down' } });
    closeRedisClient(this.#sub);
    closeRedisClient(this.#redis);
  }

  #settle(id: string, r: CommandResult | RemoteFailure): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    p.resolve(r);
  }

  #onMessage(text: string): void {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return;
    }
    // Another hub's message (shared/src/cluster.ts); one that does not parse is ignored: its sender times out.
    const parsed = ClusterMessageSchema.safeParse(raw);
    if (!parsed.success) {
      this.#log.warn({ err: parsed.error.issues[0]?.message }, 'ignoring a malformed message of another hub');
      return;
    }
    const msg = parsed.data;
    if (msg.t === 'res') {
      if (msg.result) this.#settle(msg.id, msg.result);
      else this.#settle(msg.id, { failure: msg.failure ?? { code: 'INTERNAL', message: 'no answer' } });
      return;
    }
    if (msg.t === 'revoked') {
      if (msg.from !== this.hubId) this.onRevoked?.({ id: msg.id, edgeId: msg.edgeId });
      return;
    }
    if (msg.t === 'drop') {
      this.#log.info({ edgeId: msg.edgeId, from: msg.from }, 'edge removed on another hub');
      this.#drop?.(msg.edgeId);
      return;
    }
    void this.#run(msg);
  }

  async #run(msg: Extract<Message, { t: 'cmd' }>): Promise<void> {
    let reply: Message;
    try {
      if (!this.#local) throw Object.assign(new Error('hub not serving commands'), { code: 'EDGE_OFFLINE' });
      const result = await this.#local(msg.edgeId, msg.op, msg.args);
      reply = { t: 'res', id: msg.id, result };
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      reply = {
        t: 'res',
        id: msg.id,
        failure: {
          code: typeof code === 'string' ? code : 'INTERNAL',
          message: err instanceof Error ? err.message : String(err),
        },
      };
    }
    await this.#redis.publish(this.#keys.hub(msg.from), JSON.stringify(reply)).catch((err) => {
      this.#log.warn(
        { err: describeError(err), edgeId: msg.edgeId },
        'could not answer a command of another hub',
      );
    });
  }
}
