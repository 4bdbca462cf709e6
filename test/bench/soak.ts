/**
 * Soak: a hub and an edge (real processes, test/faults/fleet.ts) with N looping streams for a long time, sampled
 * every interval: RSS, V8 heap, open file descriptors and handles of each process, the edge's end-to-end latency
 * (p50/p95 of the interval, from its histogram), frames decoded and dropped, points stored and batches waiting.
 * At the end it prints each figure's slope per hour (least squares over the samples after the warm-up), so a leak
 * shows as a steady positive slope, and writes everything to test/artifacts/soak.json.
 *
 *   npm run soak -- --minutes 120 [--streams 8] [--every 60] [--warmup 10] [--backend pglite|postgres] [--nice 0]
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Fleet, parseMetrics, ROOT, sleep } from '../faults/fleet.ts';

// Models and media from the shared data folder beside the clone unless the environment names them.
process.env.MODELS_DIR ??= join(ROOT, '..', 'shared', 'models');
process.env.SIGHTLINE_MEDIA_DIR ??= join(ROOT, '..', 'shared', 'media');

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '120' },
    streams: { type: 'string', default: '8' },
    every: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '10' },
    backend: { type: 'string', default: 'pglite' },
    nice: { type: 'string', default: '0' },
  },
});
const num = (name: keyof typeof values, min: number) => {
  const n = Number(values[name]);
  if (!Number.isFinite(n) || n < min) {
    console.error(`soak: --${name} expects a number >= ${min}, got "${values[name]}"`);
    process.exit(2);
  }
  return n;
};
const minutes = num('minutes', 0.1);
const streams = num('streams', 1);
const everyS = num('every', 1);
const warmupPct = num('warmup', 0);
const nice = num('nice', 0);
const backend = values.backend;
if (backend !== 'pglite' && backend !== 'postgres') {
  console.error(`soak: --backend expects pglite or postgres, got "${backend}"`);
  process.exit(2);
}

type Metrics = Record<string, number>;

/** The q-quantile (ms) of the observations between two cumulative bucket snapshots (upper bucket bound). */
function quantileMs(now: Map<number, number>, before: Map<number, number>, q: number): number | null {
  const bounds = [...now.keys()].sort((a, b) => a - b);
  const total = (now.get(Number.POSITIVE_INFINITY) ?? 0) - (before.get(Number.POSITIVE_INFINITY) ?? 0);
  if (total <= 0) return null;
  for (const b of bounds) {
    if ((now.get(b) ?? 0) - (before.get(b) ?? 0) >= q * total) return Number.isFinite(b) ? b * 1000 : null;
  }
  return null;
}

function procStats(pid: number | undefined): { rssMb: number; fds: number } {
  if (!pid) return { rssMb: Number.NaN, fds: Number.NaN };
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
    return { rssMb: rssKb / 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return { rssMb: Number.NaN, fds: Number.NaN };
  }
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const pts = xs.map((x, i) => [x, ys[i]!] as const).filter(([, y]) => Number.isFinite(y));
  if (pts.length < 2) return Number.NaN;
  const mx = pts.reduce((a, [x]) => a + x, 0) / pts.length;
  const my = pts.reduce((a, [, y]) => a + y, 0) / pts.length;
  const sxy = pts.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const sxx = pts.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return sxx ? sxy / sxx : Number.NaN;
}

interface Sample {
  minute: number;
  hubRssMb: number;
  hubHeapMb: number;
  hubFds: number;
  hubHandles: number;
  edgeRssMb: number;
  edgeHeapMb: number;
  edgeFds: number;
  edgeHandles: number;
  p50Ms: number | null;
  p95Ms: number | null;
  decodedPerMin: number;
  droppedPerMin: number;
  storedPerMin: number;
  outbox: number;
}

const fleet = await Fleet.create({
  backend,
  edgeId: 'edge-soak',
  frames: 0,
  streams,
  thumbnails: true,
  nice,
  flushMs: 500,
});
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await fleet.dispose();
};
process.once('SIGINT', () => void stop().then(() => process.exit(130)));
try {
  fleet.startEdge();
  await fleet.edgeUp();
  await fleet.recovery();
  const hubMetrics = async () =>
    parseMetrics(
      await (
        await fetch(`http://127.0.0.1:${fleet.hubPort}/metrics`, {
          headers: { authorization: `Bearer ${fleet.viewerToken}` },
        })
      ).text(),
    );
  const edgeMetrics = async () =>
    parseMetrics(await (await fetch(`http://127.0.0.1:${fleet.metricsPort}/metrics`)).text());
  const samples: Sample[] = [];
  let prevHub = await hubMetrics();
  let prevEdge = await edgeMetrics();
  const t0 = Date.now();
  console.log(
    `soak: ${streams} streams, ${backend}, sampling every ${everyS} s for ${minutes} min (hub pid ${fleet.hub.pid}, edge pid ${fleet.edge.pid})`,
  );
  console.log(
    'min  hubRSS hubHeap hubFd hubH | edgeRSS edgeHeap edgeFd edgeH | p50 p95 ms | dec/min drop/min stored/min outbox',
  );
  while (Date.now() - t0 < minutes * 60_000) {
    await sleep(Math.min(everyS * 1000, minutes * 60_000 - (Date.now() - t0)));
    if (!fleet.hub.running || !fleet.edge.running)
      throw new Error(`a process exited:\n${fleet.hub.log}\n${fleet.edge.log}`);
    const hub = await hubMetrics();
    const edge = await edgeMetrics();
    const minute = (Date.now() - t0) / 60_000;
    const perMin = (now: Metrics, prev: Metrics, name: string) =>
      ((now[name] ?? 0) - (prev[name] ?? 0)) * (60 / everyS);
    const h = procStats(fleet.hub.pid);
    const e = procStats(fleet.edge.pid);
    const s: Sample = {
      minute,
      hubRssMb: h.rssMb,
      hubHeapMb: (hub.flat.sightline_hub_nodejs_heap_size_used_bytes ?? Number.NaN) / 2 ** 20,
      hubFds: h.fds,
      hubHandles: hub.flat.sightline_hub_nodejs_active_handles_total ?? Number.NaN,
      edgeRssMb: e.rssMb,
      edgeHeapMb: (edge.flat.sightline_edge_nodejs_heap_size_used_bytes ?? Number.NaN) / 2 ** 20,
      edgeFds: e.fds,
      edgeHandles: edge.flat.sightline_edge_nodejs_active_handles_total ?? Number.NaN,
      p50Ms: quantileMs(edge.buckets, prevEdge.buckets, 0.5),
      p95Ms: quantileMs(edge.buckets, prevEdge.buckets, 0.95),
      decodedPerMin: perMin(edge.flat, prevEdge.flat, 'sightline_edge_frames_decoded_total'),
      droppedPerMin: perMin(edge.flat, prevEdge.flat, 'sightline_edge_frames_dropped_total'),
      storedPerMin: perMin(hub.flat, prevHub.flat, 'sightline_hub_track_points_stored_total'),
      outbox: edge.flat.sightline_edge_outbox_messages ?? Number.NaN,
    };
    samples.push(s);
    prevHub = hub;
    prevEdge = edge;
    const f = (n: number | null, d = 0) => (n === null || !Number.isFinite(n) ? '-' : n.toFixed(d));
    console.log(
      `${f(minute, 1).padStart(5)} ${f(s.hubRssMb).padStart(6)} ${f(s.hubHeapMb, 1).padStart(7)} ${f(s.hubFds).padStart(5)} ${f(s.hubHandles).padStart(4)} | ${f(s.edgeRssMb).padStart(7)} ${f(s.edgeHeapMb, 1).padStart(8)} ${f(s.edgeFds).padStart(6)} ${f(s.edgeHandles).padStart(5)} | ${f(s.p50Ms)} ${f(s.p95Ms)} | ${f(s.decodedPerMin)} ${f(s.droppedPerMin)} ${f(s.storedPerMin)} ${f(s.outbox)}`,
    );
  }
  const steady = samples.filter((s) => s.minute >= (minutes * warmupPct) / 100);
  const xs = steady.map((s) => s.minute / 60);
  const fields: (keyof Sample)[] = [
    'hubRssMb',
    'hubHeapMb',
    'hubFds',
    'hubHandles',
    'edgeRssMb',
    'edgeHeapMb',
    'edgeFds',
    'edgeHandles',
    'p95Ms',
    'storedPerMin',
  ];
  const slopes = Object.fromEntries(
    fields.map((k) => [
      k,
      slope(
        xs,
        steady.map((s) => (s[k] === null ? Number.NaN : Number(s[k]))),
      ),
    ]),
  );
  const mean = (k: keyof Sample) =>
    steady.reduce((a, s) => a + Number(s[k] ?? 0), 0) / Math.max(1, steady.length);
  console.log(`\nslopes per hour over ${steady.length} samples after the first ${warmupPct}% (warm-up):`);
  console.log('| figure | mean | slope per hour |');
  console.log('|---|---|---|');
  for (const k of fields) console.log(`| ${k} | ${mean(k).toFixed(1)} | ${Number(slopes[k]).toFixed(2)} |`);
  mkdirSync(join(ROOT, 'test', 'artifacts'), { recursive: true });
  const out = join(ROOT, 'test', 'artifacts', 'soak.json');
  writeFileSync(out, JSON.stringify({ minutes, streams, backend, everyS, samples, slopes }, null, 2));
  console.log(`\nsamples in ${out}`);
} finally {
  await stop();
}
