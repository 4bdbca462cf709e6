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
// Each backend x via runs in its own child process (so RSS is its own) and prints one table row.
// Uplink mode reads the hub child's VmRSS / VmHWM from /proc and its CPU time from /proc/<pid>/stat; on PGlite
// it starts the hub twice (first start creates the database; the second reopens it) and prints the RSS of each
// stage. --pglite-options (JSON) is merged into the hub's PGlite.create options (through a preload), to try them.
// PostgreSQL: DATABASE_URL or postgres://postgres@127.0.0.1:5432/test; store mode uses a throw-away schema, uplink
// mode a throw-away database (the hub CLI keeps its tables in schema public); both are dropped afterwards.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Decoder, Encoder } from '@msgpack/msgpack';
import { IndexRegistry, Ingest, openStore, type Store, syntheticBatch, ThumbnailStore } from '@sightline/hub';
import {
  type Batch,
  type HubMessage,
  UPLINK_MAX_FRAME_BYTES,
  UPLINK_PATH,
  UPLINK_PROTOCOL,
} from '@sightline/shared';
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
    /** Internal: run one backend x via and print its result as JSON (what the table rows are made of). */
    child: { type: 'boolean', default: false },
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

// ---- uplink mode ------------------------------------------------------------------------------------------

/** VmRSS and VmHWM (MiB) of a process. */
function procMem(pid: number): { rssMiB: number; hwmMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMiB: Math.round(kb('VmRSS') / 1024), hwmMiB: Math.round(kb('VmHWM') / 1024) };
}

/** User + system CPU seconds of a process (clock ticks of 1/100 s). */
function procCpuS(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface HubChild {
  child: ChildProcess;
  pid: number;
  url: string;
  startS: number;
  /** Last lines the hub wrote on stderr (its log), for error messages. */
  log: string[];
}

/** Environment of hub children and the token CLI: the backend, warn-level logs, the PGlite options to try. */
function hubEnv(databaseUrl: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: databaseUrl,
    SIGHTLINE_LOG_LEVEL: 'warn',
    SIGHTLINE_BENCH_PGLITE_OPTIONS: values['pglite-options'],
  };
}
const hubNodeArgs = () => (values['pglite-options'] ? ['--import', pglitePreload] : []);

/** Starts `sightline hub --port 0 --data-dir <dir>` (the compiled CLI that bin/sightline.js runs, without the wrapper process). */
async function startHubChild(dataDir: string, databaseUrl: string): Promise<HubChild> {
  const t = performance.now();
  const child = spawn(
    process.execPath,
    [...hubNodeArgs(), cliMain, 'hub', '--port', '0', '--data-dir', dataDir],
    { env: hubEnv(databaseUrl), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const log: string[] = [];
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    log.push(...chunk.split('\n').filter(Boolean));
    log.splice(0, Math.max(0, log.length - 20));
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('the hub did not start within 180 s')), 180_000);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const m = /listening on (\S+) /.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the hub exited (${code}) before listening:\n${log.join('\n')}`));
    });
  });
  return { child, pid: child.pid!, url, startS: (performance.now() - t) / 1000, log };
}

async function stopHubChild(hub: HubChild): Promise<void> {
  if (hub.child.exitCode !== null) return;
  const exited = once(hub.child, 'exit');
  hub.child.kill('SIGTERM');
  await exited;
}

/** `sightline hub token create --role admin` against the data dir / database (the hub must be stopped on PGlite). */
function createAdminToken(dataDir: string, databaseUrl: string): string {
  const r = spawnSync(
    process.execPath,
    [
      ...hubNodeArgs(),
      cliMain,
      'hub',
      'token',
      'create',
      '--role',
      'admin',
      '--name',
      'ingest-bench',
      '--data-dir',
      dataDir,
    ],
    { env: hubEnv(databaseUrl), encoding: 'utf8' },
  );
  const token = r.stdout.trim().split('\n').at(-1) ?? '';
  if (r.status !== 0 || !token) throw new Error(`hub token create failed (${r.status}): ${r.stderr}`);
  return token;
}

async function post<T>(hubUrl: string, path: string, token: string, body: unknown): Promise<T> {
  const res = await fetch(new URL(path, hubUrl), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** An edge credential the way an edge gets one: an enrollment token from the admin, traded at /api/v1/enroll. */
async function enrollEdge(hubUrl: string, adminToken: string, edgeId: string): Promise<string> {
  const { token: enrollToken } = await post<{ token: string }>(
    hubUrl,
    '/api/v1/enrollment-tokens',
    adminToken,
    {
      edgeId,
    },
  );
  const { token } = await post<{ token: string }>(hubUrl, '/api/v1/enroll', enrollToken, { edgeId });
  return token;
}

interface EdgeTotals {
  batches: number;
  points: number;
  embeddings: number;
  thumbnails: number;
  latencies: number[];
}

/** A connected edge: hello sent, welcome received. */
async function connectEdge(hubUrl: string, token: string, edgeId: string): Promise<WebSocket> {
  const url = new URL(UPLINK_PATH, hubUrl);
  url.protocol = 'ws:';
  const ws = new WebSocket(url, {
    headers: { authorization: `Bearer ${token}` },
    maxPayload: UPLINK_MAX_FRAME_BYTES,
  });
  await once(ws, 'open');
  ws.send(
    new Encoder({ ignoreUndefined: true }).encode({
      t: 'hello',
      protocol: UPLINK_PROTOCOL,
      edgeId,
      run,
      version: 'ingest-bench',
      model: 'synthetic',
      provider: 'none',
      streams: [],
    }),
  );
  const [data] = (await once(ws, 'message')) as [Buffer];
  const msg = new Decoder().decode(data) as HubMessage;
  if (msg.t !== 'welcome') throw new Error(`${edgeId}: expected welcome, got ${JSON.stringify(msg)}`);
  return ws;
}

/**
 * One edge sending as fast as acks allow: batches round-robin over its streams, at most `windowSize` unacked,
 * until the deadline; then waits for the last acks.
 */
function pumpEdge(ws: WebSocket, edgeId: string, deadline: number, totals: EdgeTotals): Promise<void> {
  const encoder = new Encoder({ ignoreUndefined: true });
  const decoder = new Decoder();
  const seqs = new Array<number>(streams).fill(0);
  const inFlight = new Map<
    string,
    { sent: number; points: number; embeddings: number; thumbnails: number }
  >();
  let i = 0;
  return new Promise<void>((resolve, reject) => {
    const pump = () => {
      while (inFlight.size < windowSize && performance.now() < deadline) {
        const s = i++ % streams;
        const batch = make(edgeId, `cam${s + 1}`, ++seqs[s]!);
        const bytes = encoder.encode(batch);
        inFlight.set(`${batch.streamId}/${batch.seq}`, {
          sent: performance.now(),
          points: batch.points.length,
          embeddings: batch.embeddings.length,
          thumbnails: batch.thumbnails.length,
        });
        ws.send(bytes, { binary: true });
      }
      if (inFlight.size === 0) {
        ws.off('close', onClose);
        ws.close(1000, 'bench done');
        resolve();
      }
    };
    const onClose = (code: number, reason: Buffer) =>
      reject(new Error(`${edgeId}: uplink closed (${code} ${reason.toString()})`));
    ws.on('close', onClose);
    ws.on('message', (data: Buffer) => {
      const msg = decoder.decode(data) as HubMessage;
      if (msg.t === 'error') return reject(new Error(`${edgeId}: hub error ${msg.code}: ${msg.message}`));
      if (msg.t !== 'ack') return;
      const key = `${msg.streamId}/${msg.seq}`;
      const sent = inFlight.get(key);
      if (!sent) return reject(new Error(`${edgeId}: ack for ${key}, which is not in flight`));
      inFlight.delete(key);
      totals.latencies.push(performance.now() - sent.sent);
      totals.batches++;
      totals.points += sent.points;
      totals.embeddings += sent.embeddings;
      totals.thumbnails += sent.thumbnails;
      pump();
    });
    pump();
  });
}

async function runUplink(backend: string): Promise<Result> {
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
    hub = await startHubChild(dataDir, databaseUrl);
    await settle();
    stage('first start (creates the database)', hub, hub.startS);
    await stopHubChild(hub);
    const adminToken = createAdminToken(dataDir, databaseUrl);
    // Second start on the same data: what a hub restart costs.
    hub = await startHubChild(dataDir, databaseUrl);
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
    await Promise.all(sockets.map((ws, e) => pumpEdge(ws, edgeIds[e]!, deadline, totals)));
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
      ...(values['pglite-options'] ? { pgliteOptions: values['pglite-options'] } : {}),
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

// ---- main -----------------------------------------------------------------------------------------------

const r1 = (n: number) => n.toFixed(1);
const r0 = (n: number) => Math.round(n).toLocaleString('en-US');
const BACKENDS = ['pglite', 'postgres'];
const VIAS = ['store', 'uplink'];

if (values.child) {
  const r = values.via === 'uplink' ? await runUplink(values.backend) : await runStore(values.backend);
  console.log(JSON.stringify(r));
} else {
  const backends = values.backend === 'both' ? BACKENDS : BACKENDS.filter((b) => b === values.backend);
  const vias = values.via === 'both' ? VIAS : VIAS.filter((v) => v === values.via);
  if (backends.length === 0)
    throw new Error(`--backend must be pglite, postgres or both, got ${values.backend}`);
  if (vias.length === 0) throw new Error(`--via must be store, uplink or both, got ${values.via}`);
  const loadAtStart = loadavg()[0]!;
  const pointsPerBatch = Number(values.tracks) * frames;
  console.log(
    `${edges} edges x ${streams} streams, ${seconds} s; batch = ${windowMs} ms window at ${fps} fps: ` +
      `${Number(values.tracks)} tracks x ${frames} frames = ${pointsPerBatch} points, ` +
      `${values.embeddings} x ${values.dims}-d embeddings, ${values.thumbnails} x ${values['thumbnail-bytes']} B thumbnails, 1 event` +
      (vias.includes('uplink') ? `; uplink: at most ${windowSize} unacked batches per edge` : '') +
      (values['pglite-options'] ? `; PGlite options ${values['pglite-options']}` : ''),
  );
  console.log(
    '| backend | via | batches | batches/s | points/s | embeddings/s | thumbnails/s | p50 ms | p95 ms | p99 ms | max ms | stored = acked points | replay batches/s | index save ms | hub RSS MiB (opened / ingest peak / end) | hub VmHWM MiB | hub CPU % | edges CPU % |',
  );
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|');
  const stageRows: string[] = [];
  for (const backend of backends) {
    for (const via of vias) {
      const args = [
        ...process.execArgv,
        process.argv[1]!,
        ...process.argv.slice(2),
        '--backend',
        backend,
        '--via',
        via,
        '--child',
      ];
      const child = spawnSync(process.execPath, args, {
        // Store mode logs the index's "rebuilding from the database" warning of a fresh data dir; keep the table clean.
        env: { ...process.env, SIGHTLINE_LOG_LEVEL: process.env.SIGHTLINE_LOG_LEVEL ?? 'error' },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
        maxBuffer: 64 << 20,
      });
      const line = child.stdout.trim().split('\n').at(-1) ?? '';
      if (child.status !== 0 || !line.startsWith('{')) {
        console.log(`| ${backend} | ${via} | failed (exit ${child.status}) |`);
        continue;
      }
      const r = JSON.parse(line) as Result;
      const dash = (v: number | undefined, f: (n: number) => string) => (v === undefined ? '–' : f(v));
      const rss =
        r.via === 'store'
          ? `${r.rssOpenMiB} / ${r.rssPeakMiB} / ${r.rssEndMiB} (in this process; ${r.rssStartMiB} before opening)`
          : `${r.rssOpenMiB} / ${r.rssPeakMiB} / ${r.rssEndMiB} (hub child)`;
      console.log(
        `| ${r.backend} | ${r.via} | ${r.batches} | ${r1(r.batches / r.seconds)} | ${r0(r.points / r.seconds)} | ${r0(r.embeddings / r.seconds)} | ${r0(r.thumbnails / r.seconds)} | ${r1(r.p50)} | ${r1(r.p95)} | ${r1(r.p99)} | ${r1(r.max)} | ${r0(r.storedPoints)} | ${dash(r.replayBatchesPerS, r1)} | ${dash(r.saveMs, String)} | ${rss} | ${dash(r.hubHwmMiB, String)} | ${dash(r.hubCpuPct, r0)} | ${dash(r.edgesCpuPct, r0)} |`,
      );
      if (r.backend === 'pglite' && r.stages) {
        for (const s of r.stages) {
          stageRows.push(
            `| ${s.stage} | ${s.startS === undefined ? '–' : r1(s.startS)} | ${s.rssMiB} | ${s.hwmMiB} |`,
          );
        }
      }
    }
  }
  console.log(
    `load average (1 min) on this ${cpus().length}-core machine: ${loadAtStart.toFixed(2)} at the start, ${loadavg()[0]!.toFixed(2)} at the end`,
  );
  if (stageRows.length) {
    console.log('');
    console.log(
      `hub RSS on PGlite (hub child process, /proc/<pid>/status${values['pglite-options'] ? `; PGlite options ${values['pglite-options']}` : ''})`,
    );
    console.log('| stage | start s | VmRSS MiB | VmHWM MiB |');
    console.log('|---|---:|---:|---:|');
    for (const row of stageRows) console.log(row);
  }
}
