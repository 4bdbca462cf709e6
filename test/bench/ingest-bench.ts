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
// The pieces: ingest-bench-edges.ts (simulated edges), ingest-bench-hub.ts (the hub child process),
// ingest-bench-runs.ts (one measured backend x via); this file parses the flags and prints the tables.
import { spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { batchMaker } from './ingest-bench-edges.ts';
import { type BenchConfig, type Result, runStore, runUplink } from './ingest-bench-runs.ts';

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
const config: BenchConfig = {
  edges,
  streams,
  seconds,
  windowSize,
  dims: Number(values.dims),
  pgUrl,
  pgliteOptions: values['pglite-options'],
  make: batchMaker({
    tracks: Number(values.tracks),
    frames,
    frameMs: 1000 / fps,
    thumbnails: Number(values.thumbnails),
    thumbnailBytes: Number(values['thumbnail-bytes']),
    embeddings: Number(values.embeddings),
    dimensions: Number(values.dims),
  }),
};

const r1 = (n: number) => n.toFixed(1);
const r0 = (n: number) => Math.round(n).toLocaleString('en-US');
const BACKENDS = ['pglite', 'postgres'];
const VIAS = ['store', 'uplink'];

if (values.child) {
  const r =
    values.via === 'uplink'
      ? await runUplink(config, values.backend)
      : await runStore(config, values.backend);
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
