// Benchmark child: one pipeline case on the compiled packages (plain JS, no tsx, as `sightline` runs), so
// its peak RSS is the product's own. Prints the result as one JSON line on stdout.
// cpuCores is the process's CPU time (every thread: decode, inference, re-ID, main) over the wall time.
//   node test/bench/pipeline-case.mjs --streams N --seconds S [--paced] [--soak] --media FILE[,FILE...]
//        [--model yolox_nano] [--sessions 2] [--threads 1] [--tracker bytetrack] [--warmup 3]
import { parseArgs } from 'node:util';
import { EdgeRuntime } from '@sightline/edge';
import { parseEdgeConfig } from '@sightline/shared';

const { values } = parseArgs({
  options: {
    streams: { type: 'string' },
    seconds: { type: 'string' },
    paced: { type: 'boolean', default: false },
    soak: { type: 'boolean', default: false },
    media: { type: 'string' },
    model: { type: 'string', default: 'yolox_nano' },
    sessions: { type: 'string', default: '2' },
    threads: { type: 'string', default: '1' },
    tracker: { type: 'string', default: 'bytetrack' },
    warmup: { type: 'string', default: '3' },
  },
});
const streams = Number(values.streams);
const mediaFiles = values.media.split(',');
const seconds = Number(values.seconds);
const config = parseEdgeConfig({
  edgeId: 'bench',
  // Several media files: stream i plays file i modulo their count.
  streams: Array.from({ length: streams }, (_, i) => ({
    id: `s${i + 1}`,
    source: mediaFiles[i % mediaFiles.length],
    loop: true,
    realtime: values.paced,
  })),
  detector: { model: values.model },
  inference: { sessions: Number(values.sessions), intraOpThreads: Number(values.threads) },
  tracker: { type: values.tracker },
});
const runtime = new EdgeRuntime(config);
let peakRss = 0;
const rssTimer = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 100);
let measuring = false;
let frames = 0;
const stage = {};
// Latencies of the current window only (a minute in soak mode), so a long soak holds no growing history.
let latencies = [];
const allLatencies = [];
runtime.on('result', (r) => {
  if (!measuring) return;
  frames++;
  for (const [k, v] of Object.entries(r.timings)) stage[k] = (stage[k] ?? 0) + (v ?? 0);
  if (r.timings.totalMs !== undefined) latencies.push(r.timings.totalMs);
});
const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? 0;
await runtime.start();
await new Promise((r) => setTimeout(r, Number(values.warmup) * 1000));
const before = runtime.stats();
measuring = true;
const t0 = performance.now();
const cpu0 = process.cpuUsage();
const timeline = [];
if (values.soak) {
  for (let m = 1; m <= Math.round(seconds / 60); m++) {
    await new Promise((r) => setTimeout(r, 60_000));
    const window = latencies.sort((a, b) => a - b);
    latencies = [];
    const sample = pct(window, 0.95);
    for (let i = 0; i < window.length; i += 10) allLatencies.push(window[i]);
    const point = {
      minute: m,
      rssMb: process.memoryUsage.rss() / 2 ** 20,
      p95: sample,
      frames: window.length,
    };
    timeline.push(point);
    process.stderr.write(
      `soak minute ${m}: rss ${point.rssMb.toFixed(0)} MB, p95 ${point.p95.toFixed(0)} ms, frames ${window.length}\n`,
    );
  }
} else {
  await new Promise((r) => setTimeout(r, seconds * 1000));
}
measuring = false;
const elapsed = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const after = runtime.stats();
clearInterval(rssTimer);
await runtime.close();
const sum = (xs, f) => xs.reduce((a, s) => a + f(s), 0);
const dropped =
  sum(after, (s) => s.droppedOverflow + s.droppedStale) -
  sum(before, (s) => s.droppedOverflow + s.droppedStale);
const decoded = sum(after, (s) => s.framesDecoded) - sum(before, (s) => s.framesDecoded);
const sorted = (values.soak ? allLatencies : latencies).sort((a, b) => a - b);
const stageMs = {};
for (const [k, v] of Object.entries(stage)) stageMs[k] = frames ? v / frames : 0;
process.stdout.write(
  `${JSON.stringify({
    streams,
    paced: values.paced,
    seconds: elapsed,
    frames,
    fps: frames / elapsed,
    dropped,
    decoded,
    dropRate: decoded ? dropped / decoded : 0,
    p50: pct(sorted, 0.5),
    p95: pct(sorted, 0.95),
    peakRssMb: peakRss / 2 ** 20,
    cpuCores: (cpu.user + cpu.system) / 1e6 / elapsed,
    stageMs,
    reid: runtime.stageStats().reid,
    ...(values.soak ? { rssTimeline: timeline } : {}),
  })}\n`,
);
process.exit(0);
