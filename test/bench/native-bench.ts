// `npm run bench:native`: ms per 768x576 frame of the hot pixel kernels, TypeScript vs native (@sightline/native),
// and the ratio. The frame is bus.jpg stretched to 768x576 (real picture content); the motion pair is that frame
// and the same picture shifted by a few pixels.
//   letterbox   768x576 -> 416x416 NCHW RGB /255 (yolov8 letterbox)
//   crops       16 person boxes -> 128x256 (w x h) BGR24, the re-ID batch
//   denoise     NLM, defaults (h 10, 3x3 patch, 7x7 window)
//   motion      frame difference, threshold 25, open 1, close 1
//   npm run bench:native [-- --runs 20] [--json out.json]
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  type ImageBuffer,
  type Kernels,
  kernelsDescription,
  loadImageBgr,
  nativeKernels,
  tsKernels,
} from '@sightline/edge';
import { type Box, PreprocessSpec } from '@sightline/shared';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '20' }, json: { type: 'string' } },
});
const RUNS = Math.max(3, Number(values.runs));
const mediaDir =
  process.env.SIGHTLINE_MEDIA_DIR ?? join(import.meta.dirname, '..', '..', '..', 'shared', 'media');
const W = 768;
const H = 576;

const bus = loadImageBgr(join(mediaDir, 'bus.jpg'));
/** bus.jpg stretched to 768x576, optionally shifted by (dx, dy) source pixels. */
function frame(dx: number, dy: number): ImageBuffer {
  const c = tsKernels.cropResize(bus, [[dx, dy, bus.width - 12 + dx, bus.height - 12 + dy]], W, H);
  return { data: c.data, width: W, height: H };
}
const cur = frame(0, 0);
const prev = frame(6, 3);

const letterboxSpec = PreprocessSpec.parse({
  resize: 'letterbox',
  layout: 'NCHW',
  colour: 'RGB',
  scale: 1 / 255,
});
const tensor = new Float32Array(3 * 416 * 416);
const boxes: Box[] = [];
for (let i = 0; i < 16; i++) {
  const x = 20 + ((i * 173) % 620);
  const y = 30 + ((i * 97) % 260);
  boxes.push([x, y, x + 50 + (i % 5) * 12, y + 130 + (i % 4) * 40]);
}

const CASES: { name: string; runs: number; run: (k: Kernels) => unknown }[] = [
  {
    name: 'letterbox 768x576 -> 416x416 NCHW',
    runs: RUNS * 5,
    run: (k) => k.letterboxInto(cur, letterboxSpec, { width: 416, height: 416 }, tensor),
  },
  { name: 'crop batch 16 -> 128x256', runs: RUNS * 5, run: (k) => k.cropResize(cur, boxes, 128, 256) },
  { name: 'NLM denoise (defaults)', runs: Math.max(3, Math.round(RUNS / 4)), run: (k) => k.denoiseNlm(cur) },
  {
    name: 'motion mask (open 1, close 1)',
    runs: RUNS * 2,
    run: (k) => k.motionMask(prev.data, cur.data, W, H),
  },
];

function median(k: Kernels, c: (typeof CASES)[number]): number {
  for (let i = 0; i < 2; i++) c.run(k); // warm-up (JIT, caches)
  const times: number[] = [];
  for (let i = 0; i < c.runs; i++) {
    const t = performance.now();
    c.run(k);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

console.log(kernelsDescription);
console.log(`ms per ${W}x${H} frame (median)`);
console.log(
  `${'kernel'.padEnd(36)} ${'TypeScript'.padStart(10)} ${'native'.padStart(10)} ${'TS/native'.padStart(10)}`,
);
const rows: { kernel: string; tsMs: number; nativeMs: number | null; ratio: number | null }[] = [];
for (const c of CASES) {
  const tsMs = median(tsKernels, c);
  const nativeMs = nativeKernels ? median(nativeKernels, c) : null;
  const ratio = nativeMs ? tsMs / nativeMs : null;
  rows.push({ kernel: c.name, tsMs, nativeMs, ratio });
  console.log(
    `${c.name.padEnd(36)} ${tsMs.toFixed(2).padStart(10)} ${(nativeMs?.toFixed(2) ?? 'n/a').padStart(10)} ${(ratio ? `${ratio.toFixed(1)}x` : 'n/a').padStart(10)}`,
  );
}
if (!nativeKernels) console.log('native: not available (build it with npm run build -w @sightline/native)');
if (values.json)
  writeFileSync(values.json, `${JSON.stringify({ kernels: kernelsDescription, rows }, null, 2)}\n`);
