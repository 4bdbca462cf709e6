// Which part of the edge holds growing memory? Runs one part alone on the compiled packages and prints RSS
// each minute:  node test/bench/memory-split.mjs decode|inference [minutes=7] [streams=8] [paced|unpaced]
//   decode:    N looped StreamSources of vtest_h264.mp4 fitted to 416x416, frames released at once; paced at
//              10 fps (default) or unpaced (as fast as the cores decode: growth per frame shows in minutes).
//              Ends with the least-squares RSS slope (samples every 10 s, the first minute left out) per
//              minute and per 10,000 frames.
//   inference: the default InferencePool (2 sessions) on synthetic 416x312 frames, two loops of ~40/s
// Reads MODELS_DIR and SIGHTLINE_MEDIA_DIR (default ../shared/...).
import { join, resolve } from 'node:path';
import { InferencePool, loadModel, StreamSource } from '@sightline/edge';

const shared = resolve(import.meta.dirname, '../../../shared');
process.env.MODELS_DIR ??= join(shared, 'models');
const media = join(process.env.SIGHTLINE_MEDIA_DIR ?? join(shared, 'media'), 'vtest_h264.mp4');
const [part = 'decode', minutesArg = '7', streamsArg = '8', pacing = 'paced'] = process.argv.slice(2);
const minutes = Number(minutesArg);
const mb = (n) => (n / 2 ** 20).toFixed(0);
const minute = () => new Promise((r) => setTimeout(r, 60_000));

if (part === 'decode') {
  let frames = 0;
  const sources = Array.from({ length: Number(streamsArg) }, (_, i) => {
    const s = new StreamSource({
      streamId: `s${i}`,
      url: media,
      realtime: pacing !== 'unpaced',
      loop: true,
      fit: { width: 416, height: 416 },
    });
    s.on('frame', () => {
      frames++;
      s.release();
    });
    s.start();
    return s;
  });
  const t0 = Date.now();
  // [seconds, frames, RSS MB, RSS less the main thread's external memory MB]. The second leaves out the
  // transferred pixel buffers the main thread has not collected yet: at 10 fps its GC runs seldom and they
  // swing by tens of MB, which hides a slow trend in a short paced run.
  const samples = [];
  const timer = setInterval(() => {
    const u = process.memoryUsage();
    samples.push([(Date.now() - t0) / 1000, frames, u.rss / 2 ** 20, (u.rss - u.external) / 2 ** 20]);
  }, 10_000);
  for (let m = 1; m <= minutes; m++) {
    await minute();
    const u = process.memoryUsage();
    console.log(
      `decode minute ${m}: rss ${mb(u.rss)} MB, heap ${mb(u.heapUsed)} MB, external ${mb(u.external)} MB, ${frames} frames`,
    );
  }
  clearInterval(timer);
  const slope = (xi, yi = 2) => {
    const pts = samples.filter((p) => p[0] > 60);
    const n = pts.length;
    const mx = pts.reduce((a, p) => a + p[xi], 0) / n;
    const my = pts.reduce((a, p) => a + p[yi], 0) / n;
    const sxy = pts.reduce((a, p) => a + (p[xi] - mx) * (p[yi] - my), 0);
    return sxy / pts.reduce((a, p) => a + (p[xi] - mx) ** 2, 0);
  };
  console.log(
    `decode ${streamsArg} streams ${pacing}: ${frames} frames (${(frames / (minutes * 60)).toFixed(0)}/s), ` +
      `RSS slope ${(slope(0) * 60).toFixed(1)} MB/min = ${(slope(1) * 10_000).toFixed(1)} MB per 10k frames; ` +
      `without main-thread external ${(slope(0, 3) * 60).toFixed(1)} MB/min`,
  );
  await Promise.all(sources.map((s) => s.close()));
} else if (part === 'inference') {
  const model = await loadModel('yolox_nano');
  const pool = await InferencePool.create({
    model: model.entry,
    modelPath: model.path,
    labels: model.labels,
  });
  const frame = (seq) => ({
    streamId: 'a',
    seq,
    pts: seq * 9000,
    width: 416,
    height: 312,
    sourceWidth: 768,
    sourceHeight: 576,
    data: new Uint8Array(416 * 312 * 3).fill(seq % 255),
    capturedAt: Date.now(),
    decodeMs: 0,
  });
  let seq = 0;
  let stop = false;
  const loop = async () => {
    while (!stop) {
      await pool.infer([frame(seq++)]);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const loops = [loop(), loop()];
  for (let m = 1; m <= minutes; m++) {
    await minute();
    console.log(`inference minute ${m}: rss ${mb(process.memoryUsage.rss())} MB, ${seq} frames`);
  }
  stop = true;
  await Promise.all(loops);
  await pool.close();
} else {
  console.error(
    'usage: node test/bench/memory-split.mjs decode|inference [minutes] [streams] [paced|unpaced]',
  );
  process.exit(2);
}
process.exit(0);
