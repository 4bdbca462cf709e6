// `npm run bench`: the edge benchmark. One run reports, on this machine:
//  1. the raw ONNX Runtime ceiling for the detector (no pipeline, best session layout),
//  2. the full pipeline (decode -> tracks) over 1, 4, 8, 16 unpaced copies of the video: fps, ratio to the
//     ceiling, per-stage ms per frame, peak RSS,
//  3. paced at native fps: the most streams held with < 1 % dropped frames and p95 latency < 250 ms,
//  4. with --soak <minutes>: 8 looped paced streams, RSS and latency each minute, and the RSS slope.
// Each case runs in its own child process so peak RSS belongs to that case alone. The pipeline runs the
// compiled packages (dist/, as `sightline` does); `npm run bench` builds them first.
// --tracker deepsort adds the re-ID stage (crops -> OSNet) to the pipeline; its wait shows as "embed".
//   npm run bench [-- --seconds 15] [--tracker bytetrack|deepsort] [--only ceiling,pipeline,paced] [--streams 1,4,8,16] [--soak 20] [--json out.json]
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';

const root = resolve(import.meta.dirname, '../..');
const shared = resolve(root, '..', 'shared');
process.env.MODELS_DIR ??= join(shared, 'models');
process.env.SIGHTLINE_LOG_LEVEL ??= 'error';
const DEFAULT_MEDIA = join(process.env.SIGHTLINE_MEDIA_DIR ?? join(shared, 'media'), 'vtest_h264.mp4');

const { values } = parseArgs({
  options: {
    streams: { type: 'string' },
    seconds: { type: 'string' },
    only: { type: 'string' },
    soak: { type: 'string' },
    media: { type: 'string' },
    model: { type: 'string', default: 'yolox_nano' },
    sessions: { type: 'string' },
    tracker: { type: 'string', default: 'bytetrack' },
    threads: { type: 'string' },
    json: { type: 'string' },
  },
});
const media = values.media ?? DEFAULT_MEDIA;
const model = values.model!;
const sessions = Number(values.sessions ?? 2);
const threads = Number(values.threads ?? 1);

interface CaseResult {
  streams: number;
  paced: boolean;
  seconds: number;
  frames: number;
  fps: number;
  dropped: number;
  decoded: number;
  dropRate: number;
  p50: number;
  p95: number;
  peakRssMb: number;
  stageMs: Record<string, number>;
  rssTimeline?: { minute: number; rssMb: number; p95: number }[];
}

const caseScript = join(import.meta.dirname, 'pipeline-case.mjs');

function child(args: string[]): Promise<CaseResult> {
  return new Promise((resolvePromise, reject) => {
    const common = [
      '--media',
      media,
      '--model',
      model,
      '--sessions',
      String(sessions),
      '--threads',
      String(threads),
      '--tracker',
      values.tracker!,
    ];
    const p = spawn(process.execPath, [caseScript, ...common, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: process.env,
    });
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.on('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`case ${args.join(' ')} exited ${code}: ${out}`));
      resolvePromise(JSON.parse(last) as CaseResult);
    });
  });
}

/** Raw ORT: K worker threads each running a session back-to-back; returns total runs/s. */
async function ceiling(
  workers: number,
  threadsPer: number,
  spinning: boolean,
  seconds: number,
): Promise<number> {
  const modelPath = join(process.env.MODELS_DIR!, 'yolox_nano.onnx');
  const ws = Array.from(
    { length: workers },
    () =>
      new Worker(new URL('./ort-ceiling-worker.mjs', import.meta.url), {
        workerData: { modelPath, threads: threadsPer, spinning, seconds, shape: [1, 3, 416, 416] },
      }),
  );
  await Promise.all(ws.map((w) => new Promise((r) => w.once('message', r))));
  const t0 = performance.now();
  for (const w of ws) w.postMessage('go');
  const runs = await Promise.all(
    ws.map((w) => new Promise<number>((r) => w.once('message', (m: { runs: number }) => r(m.runs)))),
  );
  const elapsed = (performance.now() - t0) / 1000;
  await Promise.all(ws.map((w) => w.terminate()));
  return runs.reduce((a, b) => a + b, 0) / elapsed;
}

const fmt = (n: number, d = 1) => n.toFixed(d);

async function main(): Promise<void> {
  if (model !== 'yolox_nano')
    throw new Error('the ceiling part measures yolox_nano; pass --only pipeline,paced for other models');
  const seconds = Number(values.seconds ?? 15);
  const only = new Set((values.only ?? (values.soak ? 'soak' : 'ceiling,pipeline,paced')).split(','));
  const report: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: {
      cpus: availableParallelism(),
      cpu: cpus()[0]?.model,
      memGb: totalmem() / 2 ** 30,
      node: process.version,
    },
    media,
    model,
    sessions,
    threads,
  };
  if (!existsSync(media)) throw new Error(`media file not found: ${media}`);
  console.log(`Sightline edge benchmark — ${report.date}`);
  console.log(
    `machine: ${availableParallelism()} cores (${cpus()[0]?.model}), node ${process.version}; media ${media}`,
  );
  console.log(`pipeline layout: ${sessions} sessions x ${threads} intra-op threads\n`);

  let best = 0;
  if (only.has('ceiling') || only.has('pipeline')) {
    const layouts: [number, number, boolean][] = [
      [1, 1, false],
      [2, 1, false],
      [1, 2, false],
      [1, 2, true],
    ];
    console.log('1. Raw ONNX Runtime ceiling (yolox_nano 416x416, batch 1, fixed input, no pipeline)');
    const ceilings: Record<string, number> = {};
    for (const [w, t, spin] of layouts) {
      const fps = await ceiling(w, t, spin, Math.min(seconds, 10));
      const name = `${w} worker(s) x ${t} thread(s)${t > 1 ? (spin ? ' spinning' : ' no spin') : ''}`;
      ceilings[name] = fps;
      best = Math.max(best, fps);
      console.log(`   ${name.padEnd(36)} ${fmt(fps)} inferences/s`);
    }
    console.log(`   ceiling = ${fmt(best)} inferences/s\n`);
    report.ceiling = { layouts: ceilings, best };
  }
  if (only.has('pipeline')) {
    const counts = (values.streams ?? '1,4,8,16').split(',').map(Number);
    console.log('2. Full pipeline, unpaced (decode -> scheduler -> inference -> tracker), per stream count');
    console.log(
      '   streams    fps   ratio  decode  queue  prep  infer  post  embed  track  total(ms/frame)  peak RSS',
    );
    const rows: CaseResult[] = [];
    for (const n of counts) {
      const r = await child(['--streams', String(n), '--seconds', String(seconds)]);
      rows.push(r);
      const s = r.stageMs;
      console.log(
        `   ${String(n).padStart(7)} ${fmt(r.fps).padStart(6)}  ${fmt(r.fps / best, 2).padStart(5)}  ${fmt(s.decodeMs ?? 0, 2).padStart(6)} ${fmt(s.queueMs ?? 0).padStart(6)} ${fmt(s.preprocessMs ?? 0, 2).padStart(5)} ${fmt(s.inferMs ?? 0, 2).padStart(6)} ${fmt(s.postprocessMs ?? 0, 2).padStart(5)} ${fmt(s.embedMs ?? 0, 2).padStart(6)} ${fmt(s.trackMs ?? 0, 2).padStart(6)} ${fmt(s.totalMs ?? 0).padStart(8)}        ${fmt(r.peakRssMb, 0).padStart(5)} MB`,
      );
    }
    report.pipeline = rows.map((r) => ({ ...r, ratio: r.fps / best }));
    console.log();
  }
  if (only.has('paced')) {
    console.log(
      '3. Paced at native fps (10 fps per stream): most streams with < 1 % dropped and p95 < 250 ms',
    );
    const ok = (r: CaseResult) => r.dropRate < 0.01 && r.p95 < 250;
    const tried: CaseResult[] = [];
    const tryN = async (n: number) => {
      const r = await child(['--paced', '--streams', String(n), '--seconds', String(seconds)]);
      tried.push(r);
      console.log(
        `   ${String(n).padStart(3)} streams: ${fmt(r.fps)} fps, dropped ${fmt(r.dropRate * 100, 2)} %, p50 ${fmt(r.p50, 0)} ms, p95 ${fmt(r.p95, 0)} ms, peak RSS ${fmt(r.peakRssMb, 0)} MB ${ok(r) ? 'OK' : 'over budget'}`,
      );
      return ok(r);
    };
    let lo = 0;
    let hi = 0;
    for (let n = 4; ; n *= 2) {
      if (await tryN(n)) lo = n;
      else {
        hi = n;
        break;
      }
      if (n >= 64) {
        hi = n + 1;
        break;
      }
    }
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (mid === 0) break;
      if (await tryN(mid)) lo = mid;
      else hi = mid;
    }
    console.log(`   => ${lo} paced streams held\n`);
    report.paced = { held: lo, tried };
  }
  if (values.soak) {
    const minutes = Number(values.soak);
    console.log(`4. Soak: 8 looped streams at native fps for ${minutes} minutes`);
    const r = await child(['--paced', '--streams', '8', '--seconds', String(minutes * 60), '--soak']);
    const tl = r.rssTimeline ?? [];
    const n = tl.length;
    const mx = tl.reduce((a, p) => a + p.minute, 0) / n;
    const my = tl.reduce((a, p) => a + p.rssMb, 0) / n;
    const slope =
      tl.reduce((a, p) => a + (p.minute - mx) * (p.rssMb - my), 0) /
      tl.reduce((a, p) => a + (p.minute - mx) ** 2, 0);
    for (const p of tl)
      console.log(
        `   minute ${String(p.minute).padStart(3)}: RSS ${fmt(p.rssMb, 0)} MB, p95 ${fmt(p.p95, 0)} ms`,
      );
    console.log(
      `   RSS slope ${fmt(slope, 2)} MB/min; dropped ${fmt(r.dropRate * 100, 2)} %; peak RSS ${fmt(r.peakRssMb, 0)} MB\n`,
    );
    report.soak = { ...r, slopeMbPerMin: slope };
  }
  const out = values.json ?? join(root, 'test/artifacts', `bench-${Date.now()}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2));
  console.log(`full results: ${out}`);
}

await main();
