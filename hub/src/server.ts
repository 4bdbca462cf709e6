/** Starts the hub: store, tokens, fleet, ingest, embedding indexes, HTTP(S) API and the uplink WebSocket. */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { join, resolve } from 'node:path';
import { serve } from '@hono/node-server';
import { childLogger, describeError, REDIS_PREFIX_DEFAULT, SightlineError } from '@sightline/shared';
import { createHubApp } from './app.ts';
import { type Limiter, RateLimiter, type RateLimiterOptions } from './auth/rate-limiter.ts';
import { TokenService } from './auth/token-service.ts';
import { HubCluster } from './cluster/hub-cluster.ts';
import { RedisRateLimiter } from './cluster/redis-rate-limiter.ts';
import { FleetHub } from './fleet/fleet-hub.ts';
import { corsOriginsFromEnv, parseCorsOrigins } from './http/security.ts';
import { HSTS_VALUE, loadHubTls, tlsPaths } from './http/tls.ts';
import { createHubMetrics } from './hub-metrics.ts';
import { EdgeSignalling } from './media/edge-signalling.ts';
import { MediaHub, type MediaHubOptions } from './media/media-hub.ts';
import { ViewerSignalling } from './media/viewer-signalling.ts';
import { OverflowRelay, type OverflowRelayOptions } from './overflow/overflow-relay.ts';
import { SearchService } from './search/search-service.ts';
import { openStore, type Store } from './store/db.ts';
import { quarantineBatch } from './store/quarantine.ts';
import { deleteTrackPointsBefore } from './store/track-points.ts';
import { UpgradeDispatcher } from './upgrade-dispatcher.ts';
import { Ingest } from './uplink/ingest.ts';
import { ThumbnailStore } from './uplink/thumbnail-store.ts';
import { UplinkServer } from './uplink/uplink-server.ts';
import { IndexRegistry } from './vector-index/index-registry.ts';

export interface HubServerOptions {
  /** TCP port; 0 picks a free one. Default $SIGHTLINE_HUB_PORT or 8080. */
  port?: number;
  /** Interface to bind. Default $SIGHTLINE_HUB_HOST or 127.0.0.1. */
  host?: string;
  /** Data directory (PGlite database, thumbnails, embedding indexes). Default $SIGHTLINE_DATA_DIR or ./data. */
  dataDir?: string;
  /** PostgreSQL URL instead of the embedded PGlite. Default $DATABASE_URL. */
  databaseUrl?: string;
  /** PostgreSQL schema (tests use one per suite). Default public. */
  databaseSchema?: string;
  /** Per-token rate limit. Default 50 requests/s with bursts of 100. */
  rateLimit?: RateLimiterOptions;
  /** Heartbeat period asked of edges (ms). Default 2000. */
  heartbeatMs?: number;
  /** No heartbeat for this long: the edge is offline (ms). Default 30000. */
  offlineAfterMs?: number;
  /** How long a fleet command waits for the edge (ms). Default 10000. */
  commandTimeoutMs?: number;
  /** Track points older than this many days are deleted (checked hourly). Default $SIGHTLINE_RETENTION_DAYS or 30; 0 keeps them forever. */
  retentionDays?: number;
  /** Live video (mediasoup SFU, WebRTC signalling, WHEP). Default: on, with the defaults of MediaHubOptions. */
  media?: HubMediaOptions;
  /** Origins (`https://host[:port]`) whose pages may call the API (CORS). Default $SIGHTLINE_CORS_ORIGINS (comma separated) or none: no CORS headers at all. */
  cors?: readonly string[];
  /**
   * PEM certificate chain (leaf first) to serve HTTPS and WSS with; needs `tlsKey` (docs/tls.md). Default
   * $SIGHTLINE_TLS_CERT, else none: plain HTTP (e.g. behind a TLS-terminating reverse proxy).
   */
  tlsCert?: string;
  /** PEM private key (unencrypted) of `tlsCert`. Default $SIGHTLINE_TLS_KEY. */
  tlsKey?: string;
  /**
   * Redis for the overflow workers and for several hubs on one PostgreSQL serving one fleet (presence, commands
   * and rate limits across hubs) (`redis://host:port`). Default $REDIS_URL, else none: every
   * `infer` is answered OVERFLOW_UNAVAILABLE and this hub is the only one.
   */
  redisUrl?: string;
  /** The URL other hubs of the cluster send viewers to for this hub's streams. Default $SIGHTLINE_PUBLIC_URL, else the listen URL. */
  publicUrl?: string;
  /** Overflow relay settings (key prefix, hub id, queue cap, refresh period). Default those of OverflowRelayOptions. */
  overflow?: Omit<OverflowRelayOptions, 'redis' | 'deliver' | 'metrics'>;
}

/** Live-video options of the hub (docs/webrtc.md): MediaHub's, less the metrics the hub passes itself. */
export type HubMediaOptions = Omit<MediaHubOptions, 'metrics'>;

export interface HubServer {
  /** Base URL: https:// when the hub serves TLS itself, else http://. */
  url: string;
  store: Store;
  tokens: TokenService;
  fleet: FleetHub;
  indexes: IndexRegistry;
  /** Live video: the SFU (available false, with unavailableReason, when mediasoup cannot run). */
  media: MediaHub;
  /** The overflow relay (edges' `infer` requests to the workers through Redis). */
  overflow: OverflowRelay;
  /** The other hubs sharing this fleet through Redis; undefined without Redis. */
  cluster?: HubCluster;
  dataDir: string;
  /** Track points older than this many days are deleted, at start and hourly; 0 keeps them. */
  retentionDays: number;
  /** Deletes track points older than the retention now; returns how many went (0 when retention is off). */
  applyRetention(): Promise<number>;
  close(): Promise<void>;
}

/** The lock file that says a hub is running on a data directory (PGlite allows one process). */
export function lockPath(dataDir: string): string {
  return join(resolve(dataDir), 'hub.lock');
}

/** The pid of a live hub holding `dataDir`, if any. */
export function runningHubPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(lockPath(dataDir), 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

export async function startHub(options: HubServerOptions = {}): Promise<HubServer> {
  const port = options.port ?? Number(process.env.SIGHTLINE_HUB_PORT ?? 8080);
  const host = options.host ?? process.env.SIGHTLINE_HUB_HOST ?? '127.0.0.1';
  const dataDir = resolve(options.dataDir ?? process.env.SIGHTLINE_DATA_DIR ?? './data');
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`Expected a port number 0..65535 but received ${port}`);
  }
  const databaseUrl = options.databaseUrl ?? process.env.DATABASE_URL;
  const retentionDays = options.retentionDays ?? Number(process.env.SIGHTLINE_RETENTION_DAYS ?? 30);
  if (!Number.isFinite(retentionDays) || retentionDays < 0) {
    throw new RangeError(`Expected retention days >= 0 but received ${retentionDays}`);
  }
  const corsOrigins = options.cors ? parseCorsOrigins(options.cors) : corsOriginsFromEnv();
  // Checked before anything opens: a bad certificate or key stops the start with the file's name.
  const tlsFiles = tlsPaths(options.tlsCert, options.tlsKey);
  const tls = tlsFiles ? loadHubTls(tlsFiles) : undefined;
  const log = childLogger('hub');
  mkdirSync(dataDir, { recursive: true });
  const other = databaseUrl ? undefined : runningHubPid(dataDir);
  if (other !== undefined && other !== process.pid) {
    throw new SightlineError(
      'STORE_UNAVAILABLE',
      `another hub (pid ${other}) is running on ${dataDir}; stop it or pick another --data-dir`,
    );
  }
  const store = await openStore({ dataDir, databaseUrl, schema: options.databaseSchema });
  if (!databaseUrl) writeFileSync(lockPath(dataDir), `${process.pid}\n`);
  const tokens = new TokenService(store);
  const redisUrl = options.redisUrl ?? (process.env.REDIS_URL || undefined);
  const hubId = options.overflow?.hubId ?? `hub-${randomBytes(6).toString('hex')}`;
  const prefix = options.overflow?.prefix ?? REDIS_PREFIX_DEFAULT;
  // With Redis, hubs on one PostgreSQL share the fleet: presence, commands, rate limits.
  const cluster = redisUrl
    ? new HubCluster({
        redis: redisUrl,
        prefix,
        hubId,
        ttlMs: options.offlineAfterMs ?? 30_000,
        publicUrl: options.publicUrl ?? (process.env.SIGHTLINE_PUBLIC_URL || undefined),
      })
    : undefined;
  await cluster?.ready(1000);
  if (cluster) {
    // A token revoked on one hub stops working on every hub at once, not when their caches expire.
    tokens.onRevoked = (what) => cluster.revoked(what);
    cluster.onRevoked = (what) => tokens.forget(what);
  }
  const limiter: Limiter = cluster
    ? new RedisRateLimiter({ ...options.rateLimit, redis: cluster.client, prefix })
    : new RateLimiter(options.rateLimit);
  const fleet = new FleetHub({
    store,
    heartbeatMs: options.heartbeatMs,
    offlineAfterMs: options.offlineAfterMs,
    commandTimeoutMs: options.commandTimeoutMs,
    cluster,
  });
  const thumbnails = new ThumbnailStore({ dataDir });
  const indexes = new IndexRegistry({ store, dataDir });
  const ingest = new Ingest({ store, thumbnails, indexes });
  const search = new SearchService({ store, indexes });
  const metrics = createHubMetrics(() => fleet.statusCounts());
  const media = await MediaHub.start({ ...options.media, metrics });
  let uplink: UplinkServer | undefined;
  const overflow = new OverflowRelay({
    ...options.overflow,
    hubId,
    redis: redisUrl,
    metrics,
    deliver: (edgeId, message) => uplink?.deliver(edgeId, message) ?? false,
  });
  const app = createHubApp({
    store,
    tokens,
    limiter,
    fleet,
    metrics,
    readThumbnail: (sha) => thumbnails.read(sha),
    search: (input) => search.search(input),
    media,
    indexes,
    cors: corsOrigins,
    overflow,
  });
  const server = (
    tls
      ? serve({
          fetch: app.fetch,
          port,
          hostname: host,
          createServer: createHttpsServer,
          serverOptions: { cert: tls.cert, key: tls.key },
        })
      : serve({ fetch: app.fetch, port, hostname: host })
  ) as HttpServer;
  if (tls) {
    // Before hono's listener writes the head: every HTTPS response tells browsers to keep to HTTPS.
    server.prependListener('request', (_req, res) => res.setHeader('strict-transport-security', HSTS_VALUE));
  }
  try {
    await new Promise<void>((ok, fail) => {
      server.once('listening', ok);
      server.once('error', (err: NodeJS.ErrnoException) =>
        fail(
          err.code === 'EADDRINUSE'
            ? new SightlineError(
                'PORT_IN_USE',
                `Port ${port} on ${host} is in use: pick another with --port`,
                { cause: err },
              )
            : err,
        ),
      );
    });
  } catch (err) {
    await media.close();
    await overflow.close();
    await cluster?.close();
    await store.close().catch(() => {});
    if (!databaseUrl) rmSync(lockPath(dataDir), { force: true });
    throw err;
  }
  const upgrades = new UpgradeDispatcher(server);
  const edgeMedia = new EdgeSignalling({ upgrades, tokens, media, metrics });
  const viewerMedia = new ViewerSignalling({
    upgrades,
    tokens,
    media,
    metrics,
    ...(cluster ? { holder: (edgeId: string) => fleet.holder(edgeId) } : {}),
  });
  uplink = new UplinkServer({
    upgrades,
    tokens,
    fleet,
    metrics,
    overflow,
    storeBatch: (edgeId, batch) => ingest.storeBatch(edgeId, batch),
    quarantine: (entry) => quarantineBatch(store, entry),
  });
  // Save changed indexes now and then, so a crash loses little (the store is the truth; a restart catches up).
  const saver = setInterval(() => {
    indexes
      .saveAll()
      .catch((err) => log.warn({ err: describeError(err) }, 'saving embedding indexes failed'));
  }, 60_000);
  saver.unref();
  const applyRetention = async () => {
    if (!retentionDays) return 0;
    const n = await deleteTrackPointsBefore(store, new Date(Date.now() - retentionDays * 86_400_000));
    if (n) log.info({ deleted: n, retentionDays }, 'retention: old track points deleted');
    return n;
  };
  const retain = () =>
    applyRetention().catch((err) => {
      log.warn({ err: describeError(err) }, 'retention failed');
      return 0;
    });
  // Once at start too: a hub restarted more often than hourly still applies it.
  const retainedAtStart = retain();
  const retention = setInterval(retain, 3_600_000);
  retention.unref();
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const url = `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
  if (cluster && !cluster.publicUrl) cluster.publicUrl = url;
  log.info({ url, dataDir, store: store.kind }, 'hub listening');
  if (tls) {
    const days = Math.floor((tls.validTo.getTime() - Date.now()) / 86_400_000);
    const cert = { names: tls.names, validTo: tls.validTo.toISOString() };
    if (days < 0) log.error(cert, 'the TLS certificate has expired: clients will refuse it');
    else if (days < 14) log.warn({ ...cert, days }, 'the TLS certificate expires soon');
    else log.info(cert, 'serving TLS');
  }
  let closed: Promise<void> | undefined;
  return {
    url,
    store,
    tokens,
    fleet,
    indexes,
    media,
    overflow,
    ...(cluster ? { cluster } : {}),
    dataDir,
    retentionDays,
    applyRetention,
    close() {
      closed ??= (async () => {
        clearInterval(saver);
        clearInterval(retention);
        await retainedAtStart;
        fleet.close();
        await uplink?.close();
        await overflow.close();
        await cluster?.close();
        await Promise.all([edgeMedia.close(), viewerMedia.close()]);
        await media.close();
        upgrades.close();
        await new Promise<void>((done) => {
          server.close(() => done());
          server.closeAllConnections();
        });
        await ingest.idle();
        await indexes.close().catch((err) => log.warn({ err: describeError(err) }, 'closing indexes failed'));
        await store.close();
        if (!databaseUrl) rmSync(lockPath(dataDir), { force: true });
      })();
      return closed;
    },
  };
}
