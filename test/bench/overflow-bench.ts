// `npm run bench:overflow`: what the overflow path buys an edge that cannot keep up, and what it costs.
//
// 1. Streams held: one edge (this process, with the hub; not pinned: a 16-stream edge pinned to one core took
//    minutes to open its streams) fed 8 and 16 streams of vtest_h264.mp4 paced at 10 fps, with 0, 1 and 2
//    `sightline worker` processes (pinned together to core 1 with taskset, one session each).
//    Per case: frames decoded, published and dropped (stale, ring overflow, offload misses), the offloaded
//    fraction, the p95 of decoder-to-tracks latency, and whether the streams were held (< 1 % dropped, p95 < 250 ms).
// 2. The overflow path's own cost per request at 1, 8 and 16 frames (serialise, uplink, hub, Redis, worker queueing
//    and return, no inference): an in-process worker whose backend answers at once.
// 3. A worker killed (-9) during a 16-stream run with 2 workers: frames lost to it.
//    npm run bench:overflow [-- --seconds 30] [--streams 8,16] [--workers 0,1,2] [--only cases,kill,cost] [--json out.json]
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  type DecodedFrame,
  EdgeAgent,
  type InferenceBackend,
  loadModel,
  OffloadLink,
  Outbox,
  RemoteBackend,
  UplinkClient,
} from '@sightline/edge';
import { type HubServer, startHub } from '@sightline/hub';
import { OverflowConfig, parseEdgeConfig, TypedEmitter } from '@sightline/shared';
import { OverflowWorker } from '@sightline/worker';
import { Redis } from 'ioredis';

const root = resolve(import.meta.dirname, '../..');
const shared = resolve(root, '..', 'shared');
process.env.MODELS_DIR ??= join(shared, 'models');
process.env.SIGHTLINE_LOG_LEVEL ??= 'error';
const mediaDir = process.env.SIGHTLINE_MEDIA_DIR ?? join(shared, 'media');
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '8' },
    streams: { type: 'string', default: '8,16' },
    workers: { type: 'string', default: '0,1,2' },
    json: { type: 'string' },
    /** Which parts to run: cases, kill, cost (default all three). */
    only: { type: 'string', default: 'cases,kill,cost' },
  },
});
const parts = new Set(values.only.split(','));
const seconds = Number(values.seconds);
const warmup = Number(values.warmup);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const taskset = !process.env.OVERFLOW_BENCH_NO_PIN && spawnSync('taskset', ['--version']).status === 0;

function startWorkerProcess(id: string, prefix: string): ChildProcess {
  const node = [
    process.execPath,
    '--conditions=sightline-source',
    '--import',
    'tsx',
    join(root, 'cli/src/main.ts'),
  ];
  const args = [
    'worker',
    '--model',
    'yolox_nano',
    '--redis',
    REDIS_URL,
    '--prefix',
    prefix,
    '--sessions',
    '1',
    '--id',
    id,
  ];
  const argv = taskset ? ['taskset', '-c', '1', ...node, ...args] : [...node, ...args];
  return spawn(argv[0]!, argv.slice(1), {
    cwd: root,
    stdio: 'ignore',
    env: { ...process.env, SIGHTLINE_FROM_SOURCE: '1' },
  });
}

async function until(what: string, ms: number, check: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

interface CaseFigures {
  streams: number;
  workers: number;
  decoded: number;
  published: number;
  dropped: number;
  dropRate: number;
  offloadedFraction: number;
  p95Ms: number;
  late: number;
  shed: number;
  held: boolean;
  lostToKill?: number;
}

async function runCase(streams: number, workers: number, killOne = false): Promise<CaseFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'sightline-overflow-bench-'));
  const prefix = `sightline-bench-${process.pid}-${streams}-${workers}:`;
  const hub: HubServer = await startHub({
    port: 0,
    dataDir: join(dir, 'hub'),
    redisUrl: REDIS_URL,
    overflow: { prefix },
  });
  const procs = Array.from({ length: workers }, (_, i) => startWorkerProcess(`bench-w${i + 1}`, prefix));
  let agent: EdgeAgent | undefined;
  try {
    await until(`${workers} workers`, 120_000, () => hub.overflow.snapshot().workers.length === workers);
    const token = (await hub.tokens.create({ role: 'edge', edgeId: 'bench-edge' })).token;
    agent = await EdgeAgent.start(
      parseEdgeConfig({
        edgeId: 'bench-edge',
        modelsDir: process.env.MODELS_DIR,
        streams: Array.from({ length: streams }, (_, i) => ({
          id: `cam${i + 1}`,
          source: join(mediaDir, 'vtest_h264.mp4'),
          loop: true,
          realtime: true,
        })),
        inference: { sessions: 1, intraOpThreads: 1 },
        hub: { url: hub.url, token, stateDir: join(dir, 'edge') },
        webrtc: { enabled: false },
        thumbnails: { enabled: false },
        overflow: { enabled: workers > 0 },
      }),
    );
    const a = agent;
    // 16 streams take seconds to open on 2 cores: measure once every stream runs.
    await until(
      `${streams} streams running`,
      180_000,
      () => a.runtime.stats().filter((x) => x.state === 'running').length === streams,
    );
    let counting = false;
    let published = 0;
    let dropped = 0;
    const latencies: number[] = [];
    a.runtime.on('result', (r) => {
      if (!counting) return;
      published++;
      if (r.timings.totalMs !== undefined) latencies.push(r.timings.totalMs);
    });
    a.runtime.on('frame-dropped', () => {
      if (counting) dropped++;
    });
    await sleep(warmup * 1000);
    const decodedAt = () => a.runtime.stats().reduce((n, s) => n + (s.framesDecoded ?? 0), 0);
    const d0 = decodedAt();
    const o0 = a.overflow?.stats();
    counting = true;
    let lostToKill: number | undefined;
    if (killOne && procs[0]) {
      await sleep((seconds * 1000) / 2);
      const before = a.overflow!.stats();
      procs[0].kill('SIGKILL');
      await sleep((seconds * 1000) / 2);
      const after = a.overflow!.stats();
      lostToKill = after.late - before.late + (after.failed - before.failed);
    } else {
      await sleep(seconds * 1000);
    }
    counting = false;
    const decoded = decodedAt() - d0;
    const o1 = a.overflow?.stats();
    const offloaded = o1 && o0 ? o1.answeredFrames - o0.answeredFrames : 0;
    const local = o1 && o0 ? o1.localFrames - o0.localFrames : published;
    const dropRate = decoded ? dropped / decoded : 0;
    const p95Ms = pct(latencies, 95);
    return {
      streams,
      workers,
      decoded,
      published,
      dropped,
      dropRate,
      offloadedFraction: offloaded + local ? offloaded / (offloaded + local) : 0,
      p95Ms,
      late: o1 && o0 ? o1.late - o0.late : 0,
      shed: o1 && o0 ? o1.shed - o0.shed : 0,
      held: dropRate < 0.01 && p95Ms < 250,
      ...(lostToKill !== undefined ? { lostToKill } : {}),
    };
  } finally {
    await agent?.close();
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(
      // A process killed by a signal has exitCode null and signalCode set: it has exited already.
      procs.map((p) =>
        p.exitCode === null && p.signalCode === null ? new Promise((r) => p.once('exit', r)) : undefined,
      ),
    );
    await hub.close();
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A backend that answers at once with no detections: what is left is the path's own cost. */
class NullBackend extends TypedEmitter<{ slot: [number]; failed: [never] }> {
  readonly provider = 'cpu' as const;
  readonly maxBatch = 64;
  readonly inputSize = { width: 416, height: 416 };
  readonly freeSlots = 1;
  readonly closed = false;
  async infer(frames: readonly DecodedFrame[]) {
    return frames.map(() => ({
      detections: [],
      geometry: {} as never,
      preprocessMs: 0,
      inferMs: 0,
      postprocessMs: 0,
      batchSize: frames.length,
      session: 0,
    }));
  }
  async embed(): Promise<never> {
    throw new Error('no');
  }
  async close() {}
}

async function pathCost(): Promise<
  { frames: number; requests: number; p50Ms: number; p95Ms: number; perFrameMs: number }[]
> {
  const dir = mkdtempSync(join(tmpdir(), 'sightline-overflow-cost-'));
  const prefix = `sightline-cost-${process.pid}:`;
  const hub = await startHub({
    port: 0,
    dataDir: join(dir, 'hub'),
    redisUrl: REDIS_URL,
    overflow: { prefix },
  });
  const worker = new OverflowWorker({
    models: ['yolox_nano'],
    redisUrl: REDIS_URL,
    prefix,
    modelsDir: process.env.MODELS_DIR,
    workerId: 'cost-worker',
    inferenceBackend: async () => new NullBackend() as unknown as InferenceBackend,
  });
  await worker.start();
  const model = await loadModel('yolox_nano', { verify: false });
  const token = (await hub.tokens.create({ role: 'edge', edgeId: 'cost-edge' })).token;
  const link = new OffloadLink();
  const client = new UplinkClient({
    hubUrl: hub.url,
    token,
    edgeId: 'cost-edge',
    run: 'r1',
    outbox: Outbox.open({ dir: join(dir, 'outbox') }),
    hello: () => ({ version: '0', model: 'yolox_nano', provider: 'cpu', streams: [] }),
    heartbeat: () => ({ streams: [] }),
    onCommand: async () => ({ ok: true }),
  });
  link.attach(client);
  client.start();
  const out = [];
  try {
    await until(
      'hub link and worker',
      30_000,
      () => client.connected && hub.overflow.snapshot().workers.length === 1,
    );
    for (const n of [1, 8, 16]) {
      const remote = new RemoteBackend({
        model: model.entry,
        modelPath: model.path,
        labels: model.labels,
        transport: link,
        overflow: OverflowConfig.parse({ enabled: true, maxBatch: 16, maxInFlight: 1 }),
        deadlineOf: () => Date.now() + 10_000,
      });
      const frame = (seq: number): DecodedFrame => ({
        data: new Uint8Array(416 * 312 * 3).fill(seq & 0xff),
        width: 416,
        height: 312,
        sourceWidth: 768,
        sourceHeight: 576,
        streamId: 'cam1',
        seq,
        pts: seq,
        capturedAt: Date.now(),
        decodeMs: 0,
      });
      const times: number[] = [];
      const t0 = performance.now();
      while (performance.now() - t0 < 8000 || times.length < 20) {
        const batch = Array.from({ length: n }, (_, i) => frame(i));
        const s = performance.now();
        await remote.infer(batch);
        times.push(performance.now() - s);
      }
      await remote.close();
      const p50 = pct(times.slice(5), 50);
      out.push({
        frames: n,
        requests: times.length,
        p50Ms: p50,
        p95Ms: pct(times.slice(5), 95),
        perFrameMs: p50 / n,
      });
    }
  } finally {
    await client.close();
    await worker.close();
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const cases: CaseFigures[] = [];
console.log(
  `overflow bench: ${seconds} s per case once every stream runs, after ${warmup} s warm-up; edge + hub in this process (both cores), workers ${taskset ? 'pinned to core 1' : 'not pinned (no taskset)'}`,
);
console.log(
  '| streams | workers | decoded | published | dropped | offloaded | p95 ms | late | shed | held |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const s of parts.has('cases') ? values.streams.split(',').map(Number) : []) {
  for (const w of values.workers.split(',').map(Number)) {
    const c = await runCase(s, w);
    cases.push(c);
    console.log(
      `| ${c.streams} | ${c.workers} | ${c.decoded} | ${c.published} | ${c.dropped} (${fmt(100 * c.dropRate)} %) | ${fmt(100 * c.offloadedFraction)} % | ${fmt(c.p95Ms, 0)} | ${c.late} | ${c.shed} | ${c.held ? 'yes' : 'no'} |`,
    );
  }
}
const kill = parts.has('kill') ? await runCase(16, 2, true) : undefined;
if (kill)
  console.log(
    `\nworker killed -9 halfway through a 16-stream, 2-worker run: ${kill.lostToKill} offloaded frames lost (late or failed) after the kill; in all ${kill.decoded} decoded, ${kill.published} published, ${kill.dropped} dropped, ${fmt(100 * kill.offloadedFraction)} % offloaded, ${kill.late} late, ${kill.shed} shed`,
  );
const cost = parts.has('cost') ? await pathCost() : [];
console.log(
  '\noverflow path cost per request (no inference): | frames | requests | p50 ms | p95 ms | p50 per frame ms |',
);
for (const c of cost)
  console.log(
    `| ${c.frames} | ${c.requests} | ${fmt(c.p50Ms, 2)} | ${fmt(c.p95Ms, 2)} | ${fmt(c.perFrameMs, 2)} |`,
  );
if (values.json) writeFileSync(values.json, JSON.stringify({ cases, kill, cost }, null, 2));
process.exit(0);
