// Benchmark (not a test): how an offloaded frame should travel, raw BGR24 or JPEG. For frames of the sample videos
// decoded as the edge decodes them (fitted to yolox_nano's 416x416 input), it reports bytes per frame, JPEG encode
// and decode time, and how far the detections on the JPEG round trip are from those on the raw frame (greedy
// matching at IoU >= 0.5, same class). Run: npm run bench:overflow-encoding -- [--frames N] [--quality Q ...]
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type DecodedFrame, InferencePool, loadModel } from '@sightline/edge';
import type { Detection } from '@sightline/shared';
import sharp from 'sharp';

const { values } = parseArgs({
  options: {
    frames: { type: 'string', default: '40' },
    quality: { type: 'string', multiple: true, default: ['75', '90'] },
  },
});
const framesPerClip = Number(values.frames);
const qualities = values.quality.map(Number);
const mediaDir = process.env.SIGHTLINE_MEDIA_DIR ?? join(import.meta.dirname, '../../../shared/media');
const clips = ['vtest_h264.mp4', 'one-by-one-person-detection.mp4'];

/** Frames of a clip as packed BGR24 fitted into 416x416 (aspect kept), spread over the clip. */
function decodeClip(name: string, count: number): { width: number; height: number; frames: Uint8Array[] } {
  const probe = spawnSync(
    'ffprobe',
    [
      '-v',
      'error',
      '-select_streams',
      'v:0',
      '-show_entries',
      'stream=width,height',
      '-of',
      'csv=p=0',
      join(mediaDir, name),
    ],
    { encoding: 'utf8' },
  );
  const [w, h] = probe.stdout.trim().split(',').map(Number) as [number, number];
  const scale = Math.min(416 / w, 416 / h);
  const width = Math.round(w * scale);
  const height = Math.round(h * scale);
  const out = spawnSync(
    'ffmpeg',
    [
      '-v',
      'error',
      '-i',
      join(mediaDir, name),
      '-vf',
      `select='not(mod(n\\,7))',scale=${width}:${height}`,
      '-vsync',
      '0',
      '-frames:v',
      String(count),
      '-f',
      'rawvideo',
      '-pix_fmt',
      'bgr24',
      '-',
    ],
    { maxBuffer: 1 << 30 },
  );
  if (out.status !== 0) throw new Error(`ffmpeg failed on ${name}: ${out.stderr}`);
  const size = width * height * 3;
  const frames: Uint8Array[] = [];
  for (let o = 0; o + size <= out.stdout.length; o += size)
    frames.push(new Uint8Array(out.stdout.subarray(o, o + size)));
  return { width, height, frames };
}

function iou(a: Detection['box'], b: Detection['box']): number {
  const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = ix * iy;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/** Detections of `raw` matched by one of `other` (IoU >= 0.5, same class), and the mean IoU of the matches. */
function agreement(
  raw: Detection[],
  other: Detection[],
): { matched: number; total: number; extra: number; iouSum: number } {
  const used = new Set<number>();
  let matched = 0;
  let iouSum = 0;
  for (const d of raw) {
    let best = -1;
    let bestIou = 0.5;
    other.forEach((o, j) => {
      if (used.has(j) || o.classId !== d.classId) return;
      const v = iou(d.box, o.box);
      if (v >= bestIou) {
        bestIou = v;
        best = j;
      }
    });
    if (best >= 0) {
      used.add(best);
      matched++;
      iouSum += bestIou;
    }
  }
  return { matched, total: raw.length, extra: other.length - used.size, iouSum };
}

const model = await loadModel('yolox_nano', { verify: false });
const pool = await InferencePool.create({
  model: model.entry,
  modelPath: model.path,
  labels: model.labels,
  inference: { sessions: 1, intraOpThreads: 2 },
  detector: { confidence: 0.3, iou: 0.45 },
});
const detect = async (data: Uint8Array, width: number, height: number, sw: number, sh: number) => {
  const frame: DecodedFrame = {
    data,
    width,
    height,
    sourceWidth: sw,
    sourceHeight: sh,
    streamId: 'b',
    seq: 0,
    pts: 0,
    capturedAt: Date.now(),
    decodeMs: 0,
  };
  const [r] = await pool.infer([frame]);
  return r!.detections;
};

console.log(
  `Offloaded frame encoding: ${framesPerClip} frames of each clip, fitted to 416x416, yolox_nano at confidence 0.3`,
);
console.log(
  '| clip | encoding | bytes/frame | encode ms | decode ms | raw detections kept | extra | mean IoU |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const clip of clips) {
  const { width, height, frames } = decodeClip(clip, framesPerClip);
  const rawDetections: Detection[][] = [];
  for (const f of frames) rawDetections.push(await detect(f.slice(), width, height, width, height));
  const total = rawDetections.reduce((n, d) => n + d.length, 0);
  console.log(`| ${clip} | raw | ${width * height * 3} | 0 | 0 | ${total} | - | 1 |`);
  for (const q of qualities) {
    let bytes = 0;
    let encodeMs = 0;
    let decodeMs = 0;
    const sum = { matched: 0, total: 0, extra: 0, iouSum: 0 };
    for (const [i, f] of frames.entries()) {
      let t = performance.now();
      const jpeg = await sharp(f, { raw: { width, height, channels: 3 } })
        .jpeg({ quality: q, chromaSubsampling: '4:4:4' })
        .toBuffer();
      encodeMs += performance.now() - t;
      bytes += jpeg.length;
      t = performance.now();
      const back = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
      decodeMs += performance.now() - t;
      const a = agreement(
        rawDetections[i]!,
        await detect(new Uint8Array(back.data), width, height, width, height),
      );
      sum.matched += a.matched;
      sum.total += a.total;
      sum.extra += a.extra;
      sum.iouSum += a.iouSum;
    }
    const n = frames.length;
    console.log(
      `| ${clip} | jpeg q${q} | ${Math.round(bytes / n)} | ${(encodeMs / n).toFixed(2)} | ${(decodeMs / n).toFixed(2)} | ${sum.matched}/${sum.total} (${((100 * sum.matched) / Math.max(1, sum.total)).toFixed(1)} %) | ${sum.extra} | ${(sum.iouSum / Math.max(1, sum.matched)).toFixed(3)} |`,
    );
  }
}
await pool.close();
