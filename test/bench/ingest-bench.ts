// Hub ingest benchmark: simulated edges push uplink batches (points, tracks, thumbnails, embeddings, events)
// into PGlite and/or PostgreSQL, two ways:
//   --via store   straight into Ingest.storeBatch, in this process (no network, no protocol);
//   --via uplink  end to end through the real hub: a hub child process (`sightline hub --port 0`, the compiled
//                 CLI) and N edges in this process, each a lean `ws` client speaking the uplink protocol (hello,
//                 welcome, msgpack batch frames, acks) with up to --window unacked batches, credentials from the
//                 real enrollment flow (admin token by `sightline hub token create`, then the REST API).
//   npm run bench:ingest -- [--via store|uplink|both] [--backend pglite|postgres|both] [--edges 4] [--streams 4]
//     [--seconds 10] [--window 32] [--tracks 40] [--window-ms 500] [--fps 25] [--embeddings 4] [--dims 512]
//     [--thumbnails 2] [--pglite-options '{"postgresqlconf":["shared_buffers=16MB"]}']
// Store mode: each edge stores its batches one after another (as the hub does per edge); edges run concurrently.
// Without a single --backend and --via, each backend x via runs in its own child process (so RSS is its own).
// Uplink mode reads the hub child's VmRSS / VmHWM from /proc and its CPU time from /proc/<pid>/stat; on PGlite
// it starts the hub twice (first start creates the database; the second reopens it) and prints the RSS of each
// stage. --pglite-options (JSON) is merged into the hub's PGlite.create options (through a preload), to try them.
// PostgreSQL: DATABASE_URL or postgres://postgres@127.0.0.1:5432/test; store mode uses a throw-away schema, uplink
// mode a throw-away database (the hub CLI keeps its tables in schema public); both are dropped afterwards.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { IndexRegistry, Ingest, openStore, type Store, syntheticBatch, ThumbnailStore } from '@sightline/hub';
import {
  type Batch,
  type HubMessage,
  UPLINK_MAX_FRAME_BYTES,
  UPLINK_PATH,
  UPLINK_PROTOCOL,
} from '@sightline/shared';
import { Decoder, Encoder } from '@msgpack/msgpack';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import WebSocket from 'ws';

const { values } = parseArgs({
  options: {
    via: { type: 'string', default: 'both' },
    edges: { type: 'string', default: '4' },
    streams: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '10' },
    backend: { type: 'string', default: 'both' },
    window: { type: 'string', default: '32' },
    tracks: { type: 'string', default: '40' },
    'window-ms': { type: 'string', default: '500' },
    fps: { type: 'string', default: '25' },
    embeddings: { type: 'string', default: '4' },
    dims: { type: 'string', default: '512' },
    thumbnails: { type: 'string', default: '2' },
    'thumbnail-bytes': { type: 'string', default: '8192' },
    'pglite-options': { type: 'string', default: '' },
  },
});
const edges = Number(values.edges);
const streams = Number(values.streams);
const seconds = Number(values.seconds);
const windowMs = Number(values['window-ms']);
const fps = Number(values.fps);
const frames = Math.max(1, Math.round((windowMs * fps) / 1000));
const pgUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const windowSize = Number(values.window);
const cliMain = fileURLToPath(new URL('../../cli/dist/main.js', import.meta.url));
const pglitePreload = new URL('./pglite-options-preload.mjs', import.meta.url).href;

interface Stage {
  stage: string;
  /** Seconds from spawning the hub to "listening" (start stages only). */
  startS?: number;
  rssMiB: number;
  hwmMiB: number;
}

interface Result {
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

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const mib = (b: number) => Math.round(b / 1048576);

const run = `bench${process.pid}`;
const make = (edgeId: string, stream: string, seq: number): Batch =>
  syntheticBatch({
    salt: edgeId,
    streamId: stream,
    run,
    seq,
    tracks: Number(values.tracks),
    frames,
    frameMs: 1000 / fps,
    thumbnails: Number(values.thumbnails),
    thumbnailBytes: Number(values['thumbnail-bytes']),
    embeddings: Number(values.embeddings),
    dimensions: Number(values.dims),
  });

async function runStore(backend: string): Promise<Result> {
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
  const indexSize = (await indexes.get('osnet_test', Number(values.dims))).size;
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

const r1 = (n: number) => n.toFixed(1);
const r0 = (n: number) => Math.round(n).toLocaleString('en-US');

if (values.backend === 'pglite' || values.backend === 'postgres') {
  console.log(JSON.stringify(await runBackend(values.backend)));
} else {
  const which = values.backend === 'both' ? ['pglite', 'postgres'] : [];
  if (which.length === 0)
    throw new Error(`--backend must be pglite, postgres or both, got ${values.backend}`);
  const pointsPerBatch = Number(values.tracks) * frames;
  console.log(
    `${edges} edges x ${streams} streams, ${seconds} s; batch = ${windowMs} ms window at ${fps} fps: ` +
      `${Number(values.tracks)} tracks x ${frames} frames = ${pointsPerBatch} points, ` +
      `${values.embeddings} x ${values.dims}-d embeddings, ${values.thumbnails} x ${values['thumbnail-bytes']} B thumbnails, 1 event`,
  );
  console.log(
    '| backend | batches | batches/s | points/s | embeddings/s | thumbnails/s | p50 ms | p95 ms | p99 ms | max ms | replay batches/s | index save ms | hub RSS MiB (start / opened / ingest peak / end) |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const backend of which) {
    const args = [...process.execArgv, process.argv[1]!, ...process.argv.slice(2), '--backend', backend];
    const child = spawnSync(process.execPath, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = child.stdout.trim().split('\n').at(-1) ?? '';
    if (child.status !== 0 || !line.startsWith('{')) {
      console.log(`| ${backend} | failed (exit ${child.status}) |`);
      continue;
    }
    const r = JSON.parse(line) as Result;
    console.log(
      `| ${r.backend} | ${r.batches} | ${r1(r.batches / r.seconds)} | ${r0(r.points / r.seconds)} | ${r0(r.embeddings / r.seconds)} | ${r0(r.thumbnails / r.seconds)} | ${r1(r.p50)} | ${r1(r.p95)} | ${r1(r.p99)} | ${r1(r.max)} | ${r1(r.replayBatchesPerS)} | ${r.saveMs} | ${r.rssStartMiB} / ${r.rssOpenMiB} / ${r.rssPeakMiB} / ${r.rssEndMiB} |`,
    );
  }
}
