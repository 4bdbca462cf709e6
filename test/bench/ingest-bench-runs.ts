/** Ingest benchmark, the measured runs: one backend x via (--via store or uplink), timed and sampled into a Result. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IndexRegistry, Ingest, openStore, type Store, ThumbnailStore } from '@sightline/hub';
import type { Batch } from '@sightline/shared';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import type WebSocket from 'ws';
import { connectEdge, type EdgeTotals, enrollEdge, type MakeBatch, pumpEdge } from './ingest-bench-edges.ts';
import {
  createAdminToken,
  type HubChild,
  procCpuS,
  procMem,
  startHubChild,
  stopHubChild,
} from './ingest-bench-hub.ts';

/** What a run needs from the command line. */
export interface BenchConfig {
  edges: number;
  streams: number;
  seconds: number;
  /** --window: unacked batches per edge (uplink mode). */
  windowSize: number;
  /** --dims: the embedding index to count. */
  dims: number;
  pgUrl: string;
  /** --pglite-options, as given ('' when not). */
  pgliteOptions: string;
  make: MakeBatch;
}

export interface Stage {
  stage: string;
  /** Seconds from spawning the hub to "listening" (start stages only). */
  startS?: number;
  rssMiB: number;
  hwmMiB: number;
}

export interface Result {
  backend: string;
  via: 'store' | 'uplink';
  seconds: number;
  batches: number;
  points: number;
  embeddings: number;
  thumbnails: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  storedPoints: number;
  /** Store mode only. */
  replayBatchesPerS?: number;
  indexSize?: number;
  saveMs?: number;
  rssStartMiB?: number;
  /** Store mode: this process (the hub's code runs in it). Uplink mode: the hub child's VmRSS. */
  rssOpenMiB: number;
  rssPeakMiB: number;
  rssEndMiB: number;
  /** Uplink mode: the hub child's VmHWM at the end, its CPU and this process's (the edges') CPU over the run. */
  hubHwmMiB?: number;
  hubCpuPct?: number;
  edgesCpuPct?: number;
  stages?: Stage[];
  pgliteOptions?: string;
}

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export const mib = (b: number) => Math.round(b / 1048576);

/** Store mode: each edge stores its batches one after another straight into Ingest.storeBatch, in this process. */
export async function runStore(cfg: BenchConfig, backend: string): Promise<Result> {
  const { edges, streams, seconds, pgUrl, make } = cfg;
  const rssStart = process.memoryUsage().rss;
  const dataDir = mkdtempSync(join(tmpdir(), 'sightline-ingest-bench-'));
  const schema = `ingest_bench_${process.pid}`;
  const store: Store =
    backend === 'pglite'
      ? await openStore({ dataDir, databaseUrl: '' })
      : await openStore({ databaseUrl: pgUrl, schema });
  const thumbnails = new ThumbnailStore({ dataDir });
  const indexes = new IndexRegistry({ store, dataDir });
  const ingest = new Ingest({ store, thumbnails, indexes });
  // RSS while ingesting only: PGlite's first open (initdb) peaks near 0.9 GB on its own (docs/benchmarks.md).
  const rssOpen = process.memoryUsage().rss;
  let rssPeak = rssOpen;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  }, 100);

  const latencies: number[] = [];
  const recent: [string, Batch][] = [];
  let batches = 0;
  let points = 0;
  let embeddings = 0;
  let written = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: edges }, async (_, e) => {
      const edgeId = `edge${e + 1}`;
      const seqs = new Array<number>(streams).fill(0);
      for (let i = 0; performance.now() < deadline; i++) {
        const s = i % streams;
        const batch = make(edgeId, `cam${s + 1}`, ++seqs[s]!);
        const t = performance.now();
        const r = await ingest.storeBatch(edgeId, batch);
        latencies.push(performance.now() - t);
        batches++;
        points += r.points;
        embeddings += r.embeddings;
        written += r.thumbnails;
        if (recent.length < 200) recent.push([edgeId, batch]);
        else recent[Math.floor(Math.random() * 200)] = [edgeId, batch];
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;

  // Replays: the same batches again (an edge reconnecting and resending its outbox), all duplicates.
  let t = performance.now();
  const replays = await Promise.all(recent.map(([edgeId, b]) => ingest.storeBatch(edgeId, b)));
  const replayS = (performance.now() - t) / 1000;
  if (!replays.every((r) => r.duplicate && r.points === 0)) throw new Error('a replay stored something');

  const [row] = (
    (await store.db.execute(sql`select count(*)::float8 as n from track_points`)) as unknown as {
      rows: { n: number }[];
    }
  ).rows;
  const storedPoints = Number(row?.n);
  if (storedPoints !== points)
    throw new Error(`counted ${points} new points, the table holds ${storedPoints}`);
  const indexSize = (await indexes.get('osnet_test', cfg.dims)).size;
  t = performance.now();
  await indexes.saveAll();
  const saveMs = Math.round(performance.now() - t);
  clearInterval(sampler);
  const rssEnd = process.memoryUsage().rss;
  rssPeak = Math.max(rssPeak, rssEnd);

  await indexes.close();
  if (backend === 'postgres') await store.db.execute(sql.raw(`drop schema ${schema} cascade`));
  await store.close();
  rmSync(dataDir, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  return {
    backend,
    via: 'store',
    seconds: elapsed,
    batches,
    points,
    embeddings,
    thumbnails: written,
    p50: quantile(latencies, 0.5),
    p95: quantile(latencies, 0.95),
    p99: quantile(latencies, 0.99),
    max: latencies.at(-1) ?? 0,
    replayBatchesPerS: recent.length / replayS,
    storedPoints,
    indexSize,
    saveMs,
    rssStartMiB: mib(rssStart),
    rssOpenMiB: mib(rssOpen),
    rssPeakMiB: mib(rssPeak),
    rssEndMiB: mib(rssEnd),
  };
}

/** Uplink mode: a hub child process and N edges in this process speaking the uplink protocol. */
export async function runUplink(cfg: BenchConfig, backend: string): Promise<Result> {
  const { edges, seconds, pgUrl, pgliteOptions } = cfg;
  const dataDir = mkdtempSync(join(tmpdir(), 'sightline-ingest-bench-'));
  let databaseUrl = '';
  let dbName = '';
  const admin =
    backend === 'postgres' ? drizzle({ connection: { connectionString: pgUrl, max: 1 } }) : undefined;
  if (admin) {
    dbName = `ingest_bench_${process.pid}`;
    await admin.execute(sql.raw(`create database ${dbName}`));
    const u = new URL(pgUrl);
    u.pathname = `/${dbName}`;
    databaseUrl = u.href;
  }
  const stages: Stage[] = [];
  const stage = (name: string, hub: HubChild, startS?: number) =>
    stages.push({ stage: name, ...(startS === undefined ? {} : { startS }), ...procMem(hub.pid) });
  const settle = () => new Promise((r) => setTimeout(r, 1000));
  let hub: HubChild | undefined;
  try {
    // First start: creates (PGlite: initdb) and migrates the database.
    hub = await startHubChild(dataDir, databaseUrl, pgliteOptions);
    await settle();
    stage('first start (creates the database)', hub, hub.startS);
    await stopHubChild(hub);
    const adminToken = createAdminToken(dataDir, databaseUrl, pgliteOptions);
    // Second start on the same data: what a hub restart costs.
    hub = await startHubChild(dataDir, databaseUrl, pgliteOptions);
    await settle();
    stage('restart (reopens it)', hub, hub.startS);
    const rssOpen = procMem(hub.pid).rssMiB;

    const edgeIds = Array.from({ length: edges }, (_, e) => `edge${e + 1}`);
    const sockets: WebSocket[] = [];
    for (const edgeId of edgeIds) {
      sockets.push(await connectEdge(hub.url, await enrollEdge(hub.url, adminToken, edgeId), edgeId));
    }
    const hubPid = hub.pid;
    let rssPeak = rssOpen;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, procMem(hubPid).rssMiB);
    }, 200);
    const totals: EdgeTotals = { batches: 0, points: 0, embeddings: 0, thumbnails: 0, latencies: [] };
    const hubCpu0 = procCpuS(hubPid);
    const ownCpu0 = process.cpuUsage();
    const t0 = performance.now();
    const deadline = t0 + seconds * 1000;
    await Promise.all(sockets.map((ws, e) => pumpEdge(ws, edgeIds[e]!, deadline, totals, cfg)));
    const elapsed = (performance.now() - t0) / 1000;
    const hubCpuS = procCpuS(hubPid) - hubCpu0;
    const own = process.cpuUsage(ownCpu0);
    clearInterval(sampler);
    const end = procMem(hubPid);
    rssPeak = Math.max(rssPeak, end.rssMiB);
    stage(`after ${seconds} s of uplink ingest`, hub);
    await stopHubChild(hub);
    hub = undefined;

    // The store's own count, with the hub stopped (PGlite allows one process).
    const store = await openStore({ dataDir, databaseUrl });
    const [row] = (
      (await store.db.execute(sql`select count(*)::float8 as n from track_points`)) as unknown as {
        rows: { n: number }[];
      }
    ).rows;
    await store.close();
    const storedPoints = Number(row?.n);
    if (storedPoints !== totals.points)
      throw new Error(`the hub acked ${totals.points} points, the table holds ${storedPoints}`);
    totals.latencies.sort((a, b) => a - b);
    const l = totals.latencies;
    return {
      backend,
      via: 'uplink',
      seconds: elapsed,
      batches: totals.batches,
      points: totals.points,
      embeddings: totals.embeddings,
      thumbnails: totals.thumbnails,
      p50: quantile(l, 0.5),
      p95: quantile(l, 0.95),
      p99: quantile(l, 0.99),
      max: l.at(-1) ?? 0,
      storedPoints,
      rssOpenMiB: rssOpen,
      rssPeakMiB: rssPeak,
      rssEndMiB: end.rssMiB,
      hubHwmMiB: end.hwmMiB,
      hubCpuPct: (100 * hubCpuS) / elapsed,
      edgesCpuPct: (100 * (own.user + own.system)) / 1e6 / elapsed,
      stages,
      ...(pgliteOptions ? { pgliteOptions } : {}),
    };
  } finally {
    if (hub) await stopHubChild(hub);
    rmSync(dataDir, { recursive: true, force: true });
    if (admin) {
      await admin.execute(sql.raw(`drop database if exists ${dbName} with (force)`));
      await (admin.$client as unknown as { end(): Promise<void> }).end();
    }
  }
}
