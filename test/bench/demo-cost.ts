// `npm run bench:demo`: what the demo's re-ID costs. The demo's two streams (vtest.avi and
// one-by-one-person-detection.mp4, paced at their native 10 fps) run with ByteTrack (no embeddings) and with
// DeepSORT (OSNet embeddings, what the demo uses), alternating, each case in its own child process
// (test/bench/pipeline-case.mjs on the compiled packages). Reports CPU cores used, fps, drops, p95 latency, and the
// per-frame embedding wait, then the DeepSORT / ByteTrack ratios of the medians.
//   npm run bench:demo [-- --seconds 30] [--rounds 2] [--json out.json]
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const root = resolve(import.meta.dirname, '../..');
const shared = resolve(root, '..', 'shared');
process.env.MODELS_DIR ??= join(shared, 'models');
process.env.SIGHTLINE_LOG_LEVEL ??= 'error';
const mediaDir = process.env.SIGHTLINE_MEDIA_DIR ?? join(shared, 'media');

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    rounds: { type: 'string', default: '2' },
    json: { type: 'string' },
  },
});

interface CaseResult {
  fps: number;
  dropRate: number;
  p95: number;
  cpuCores: number;
  peakRssMb: number;
  stageMs: Record<string, number>;
}

function runCase(tracker: string): Promise<CaseResult> {
  const media = [join(mediaDir, 'vtest.avi'), join(mediaDir, 'one-by-one-person-detection.mp4')].join(',');
  const args = [
    ...['--streams', '2', '--seconds', values.seconds!, '--paced', '--media', media],
    ...['--tracker', tracker, '--warmup', '5'],
  ];
  return new Promise((resolvePromise, reject) => {
    const p = spawn(process.execPath, [join(import.meta.dirname, 'pipeline-case.mjs'), ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${tracker} case exited ${code}: ${out}`));
      resolvePromise(JSON.parse(out.trim().split('\n').pop()!) as CaseResult);
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const results: Record<string, CaseResult[]> = { bytetrack: [], deepsort: [] };
console.log(
  `demo cost: 2 paced streams, ${values.seconds} s per case, ${values.rounds} rounds, ${availableParallelism()} x ${cpus()[0]?.model}`,
);
console.log('tracker    cores  fps   drop%  p95 ms  embed ms/frame  peak MB');
for (let round = 0; round < Number(values.rounds); round++) {
  for (const tracker of ['bytetrack', 'deepsort']) {
    const r = await runCase(tracker);
    results[tracker]!.push(r);
    console.log(
      `${tracker.padEnd(10)} ${r.cpuCores.toFixed(2).padStart(5)} ${r.fps.toFixed(1).padStart(5)} ${(r.dropRate * 100).toFixed(1).padStart(6)} ${r.p95.toFixed(0).padStart(7)} ${(r.stageMs.embedMs ?? 0).toFixed(2).padStart(15)} ${r.peakRssMb.toFixed(0).padStart(8)}`,
    );
  }
}
const cores = (t: string) => median(results[t]!.map((r) => r.cpuCores));
const rss = (t: string) => median(results[t]!.map((r) => r.peakRssMb));
const summary = {
  date: new Date().toISOString(),
  seconds: Number(values.seconds),
  results,
  cpuRatio: cores('deepsort') / cores('bytetrack'),
  extraCores: cores('deepsort') - cores('bytetrack'),
  rssRatio: rss('deepsort') / rss('bytetrack'),
};
console.log(
  `median CPU: bytetrack ${cores('bytetrack').toFixed(2)} cores, deepsort ${cores('deepsort').toFixed(2)} cores: ratio ${summary.cpuRatio.toFixed(2)} (+${summary.extraCores.toFixed(2)} cores); peak RSS ratio ${summary.rssRatio.toFixed(2)}`,
);
if (values.json) writeFileSync(values.json, JSON.stringify(summary, null, 2));
