/**
 * The full cascade on several streams: segment + detect + classify (crops of people) + re-ID (deepsort), each
 * stream vtest_h264.mp4 decoded as fast as the pipeline takes it (unpaced), for a fixed time. Prints frames/s per
 * stream and in all, and per-stage milliseconds per frame (p50 / p95) from the results' timings.
 *   npm run bench:cascade [-- --streams 4 --seconds 20 --every 1 --stages "detect -> segment -> classify -> reid"]
 */
import { parseArgs } from 'node:util';
import { EdgeRuntime } from '@sightline/edge';
import { type FrameResult, parseEdgeConfig } from '@sightline/shared';

const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '5' },
    every: { type: 'string', default: '1' },
    stages: { type: 'string', default: 'detect -> segment -> classify -> reid' },
  },
});
const streams = Number(values.streams);
const seconds = Number(values.seconds);
const warmup = Number(values.warmup);
const every = Number(values.every);
const media = process.env.SIGHTLINE_MEDIA_DIR ?? '../shared/media';

const runtime = new EdgeRuntime(
  parseEdgeConfig({
    edgeId: 'cascade-bench',
    modelsDir: process.env.MODELS_DIR,
    streams: Array.from({ length: streams }, (_, i) => ({
      id: `cam${i + 1}`,
      source: `${media}/vtest_h264.mp4`,
      loop: true,
      realtime: false,
      stages: values.stages,
    })),
    inference: { sessions: 1, intraOpThreads: 1 },
    detector: { classes: ['person'] },
    tracker: { type: 'deepsort' },
    classify: { classes: ['person'], every, minHeight: 40 },
    segment: { every },
    thumbnails: { enabled: false },
  }),
);
const results: FrameResult[] = [];
let counting = false;
runtime.on('result', (r) => {
  if (counting) results.push(r);
});
await runtime.start();
await new Promise((r) => setTimeout(r, warmup * 1000));
counting = true;
const t0 = performance.now();
await new Promise((r) => setTimeout(r, seconds * 1000));
counting = false;
const elapsed = (performance.now() - t0) / 1000;
const { reid, classify, segment } = runtime.stageStats();
await runtime.close();

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : 0;
};
const row = (name: string, xs: number[]) =>
  `| ${name} | ${xs.length} | ${pct(xs, 50).toFixed(1)} | ${pct(xs, 95).toFixed(1)} |`;
const of = (k: keyof FrameResult['timings']) =>
  results.map((r) => r.timings[k]).filter((v): v is number => v !== undefined);
console.log(
  `${values.stages} on ${streams} streams (unpaced), ${seconds} s after ${warmup} s warm-up, classify and segment every ${every} frame(s), one session per model, CPU`,
);
console.log(`frames/s in all: ${(results.length / elapsed).toFixed(1)}; per stream:`);
for (let i = 1; i <= streams; i++) {
  const n = results.filter((r) => r.streamId === `cam${i}`).length;
  console.log(`  cam${i}: ${(n / elapsed).toFixed(1)}`);
}
console.log('\n| stage (ms per frame) | frames | p50 | p95 |\n|---|---|---|---|');
console.log(row('decode (incl. scaling)', of('decodeMs')));
console.log(row('queue', of('queueMs')));
console.log(row('detect: preprocess', of('preprocessMs')));
console.log(row('detect: infer', of('inferMs')));
console.log(row('stages after detection (segment, classify, re-ID together)', of('stagesMs')));
console.log(row('track', of('trackMs')));
console.log(row('total (decode to tracks)', of('totalMs')));
const segmented = results.filter((r) => r.segmentation).length;
const labelled = results.filter((r) => r.tracks.some((t) => t.classes)).length;
console.log(
  `\nsegmented frames ${segmented} (segment stage, whole run: ${segment?.images ?? 0} frames, ${segment?.skipped ?? 0} skipped while behind)`,
);
console.log(
  `frames with labelled tracks ${labelled} (classify stage, whole run: ${classify?.images ?? 0} crops in ${classify?.calls ?? 0} calls, ${classify?.skipped ?? 0} frames skipped while behind)`,
);
console.log(`re-ID crops ${reid?.crops ?? 0} in ${reid?.calls ?? 0} calls`);
