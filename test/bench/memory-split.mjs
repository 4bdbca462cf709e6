// Which part of the edge holds growing memory? Runs one part alone on the compiled packages and prints RSS
// each minute:  node test/bench/memory-split.mjs decode|inference [minutes=7] [streams=8]
//   decode:    N paced StreamSources of vtest_h264.mp4 fitted to 416x416, frames released at once
//   inference: the default InferencePool (2 sessions) on synthetic 416x312 frames, two loops of ~40/s
// Reads MODELS_DIR and SIGHTLINE_MEDIA_DIR (default ../shared/...).
import { join, resolve } from 'node:path';
import { InferencePool, loadModel, StreamSource } from '@sightline/edge';

const shared = resolve(import.meta.dirname, '../../../shared');
process.env.MODELS_DIR ??= join(shared, 'models');
const media = join(process.env.SIGHTLINE_MEDIA_DIR ?? join(shared, 'media'), 'vtest_h264.mp4');
const [part = 'decode', minutesArg = '7', streamsArg = '8'] = process.argv.slice(2);
const minutes = Number(minutesArg);
const mb = (n) => (n / 2 ** 20).toFixed(0);
const minute = () => new Promise((r) => setTimeout(r, 60_000));

if (part === 'decode') {
  const sources = Array.from({ length: Number(streamsArg) }, (_, i) => {
    const s = new StreamSource({
      streamId: `s${i}`,
      url: media,
      realtime: true,
      loop: true,
      fit: { width: 416, height: 416 },
    });
    s.on('frame', () => s.release());
    s.start();
    return s;
  });
  for (let m = 1; m <= minutes; m++) {
    await minute();
    const u = process.memoryUsage();
    console.log(
      `decode minute ${m}: rss ${mb(u.rss)} MB, heap ${mb(u.heapUsed)} MB, external ${mb(u.external)} MB`,
    );
  }
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
  console.error('usage: node test/bench/memory-split.mjs decode|inference [minutes] [streams]');
  process.exit(2);
}
process.exit(0);
