// Benchmark (not a test): ms per frame of preprocessInto for a full 768x576 frame and a pre-scaled 416x312 one.
// Run: node --import tsx edge/src/preprocess/preprocess.bench.ts
import { PreprocessSpec } from '@sightline/shared';
import { preprocessInto } from './preprocess.ts';

const spec = PreprocessSpec.parse({ resize: 'letterbox', align: 'top-left', layout: 'NCHW', colour: 'BGR' });
const out = new Float32Array(3 * 416 * 416);
for (const [w, h] of [
  [768, 576],
  [416, 312],
] as const) {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 255;
  const img = { data, width: w, height: h, sourceWidth: 768, sourceHeight: 576 };
  for (let i = 0; i < 20; i++) preprocessInto(img, spec, { width: 416, height: 416 }, out);
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    preprocessInto(img, spec, { width: 416, height: 416 }, out);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const f = (x: number) => x.toFixed(2);
  console.log(
    `preprocess ${w}x${h} -> 416x416: median ${f(times[100]!)} ms, p10 ${f(times[20]!)}, p90 ${f(times[180]!)}`,
  );
}
