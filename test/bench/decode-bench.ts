/**
 * Decode throughput on this machine: node-av sync (no conversion, BGR24 full size, BGR24 fitted), the same through
 * StreamSource's worker thread with transfer, and Debian's ffmpeg CLI piped to Node.
 * Run: node --import tsx test/bench/decode-bench.ts [--frames N] [--repeat R]   (SIGHTLINE_MEDIA_DIR, default ../shared/media)
 * Each cell is the best of R runs (default 3): on a shared machine the best run is the least disturbed one.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { StreamSource } from '@sightline/edge';
import { Decoder, Demuxer } from 'node-av/api';
import { AV_LOG_FATAL, AV_PIX_FMT_BGR24, SWS_BILINEAR } from 'node-av/constants';
import { getFFmpegInfo, Log, SoftwareScaleContext } from 'node-av/lib';

Log.setLevel(AV_LOG_FATAL);
const mediaDir = process.env.SIGHTLINE_MEDIA_DIR ?? resolve(import.meta.dirname, '../../../shared/media');
const framesArg = process.argv.indexOf('--frames');
const LIMIT = framesArg > 0 ? Number(process.argv[framesArg + 1]) : 400;
const repeatArg = process.argv.indexOf('--repeat');
const REPEAT = repeatArg > 0 ? Number(process.argv[repeatArg + 1]) : 3;
const FIT = { width: 416, height: 312 };

async function best(run: () => number | Promise<number>): Promise<number> {
  let top = 0;
  for (let i = 0; i < REPEAT; i++) top = Math.max(top, await run());
  return top;
}

type Mode = 'none' | 'full' | 'fit';

/** node-av on this thread: packets -> frames, optionally converted to BGR24. Returns frames/s. */
function nodeAvSync(file: string, mode: Mode): number {
  const demuxer = Demuxer.openSync(file);
  const stream = demuxer.video()!;
  const decoder = Decoder.createSync(stream, { context: { threadCount: 1 } });
  const sws = new SoftwareScaleContext();
  let ready = false;
  let n = 0;
  const t0 = performance.now();
  for (const packet of demuxer.packetsSync(stream.index)) {
    decoder.decodeSync(packet);
    for (
      let f = decoder.receiveSync();
      f && typeof f === 'object' && 'width' in f;
      f = decoder.receiveSync()
    ) {
      if (mode !== 'none') {
        const w = mode === 'fit' ? FIT.width : f.width;
        const h = mode === 'fit' ? FIT.height : f.height;
        if (!ready) {
          sws.getContext(f.width, f.height, f.format as never, w, h, AV_PIX_FMT_BGR24, SWS_BILINEAR);
          ready = true;
        }
        const out = Buffer.from(new ArrayBuffer(w * h * 3));
        sws.scaleSync(f.data!, f.linesize, 0, f.height, [out], [w * 3]);
      }
      f.free();
      n++;
    }
    packet?.free();
    if (!packet || n >= LIMIT) break;
  }
  const fps = (n * 1000) / (performance.now() - t0);
  sws.freeContext();
  decoder.close();
  demuxer.closeSync();
  return fps;
}

/** StreamSource (worker + transfer), unpaced; timed from the first frame so worker start-up is excluded. */
async function worker(
  file: string,
  fit: boolean,
  backend: 'node-av' | 'ffmpeg' = 'node-av',
): Promise<number> {
  const source = new StreamSource({
    streamId: 'bench',
    url: file,
    realtime: false,
    window: 8,
    backend,
    fit: fit ? FIT : undefined,
  });
  let n = 0;
  let t0 = 0;
  const done = new Promise<number>((resolve) => {
    source.on('frame', () => {
      if (n === 0) t0 = performance.now();
      n++;
      source.release();
      if (n === LIMIT) resolve(((n - 1) * 1000) / (performance.now() - t0));
    });
  });
  source.start();
  const fps = await done;
  await source.close();
  return fps;
}

/** Debian's ffmpeg CLI writing rawvideo BGR24 to a pipe read by Node (process start included). */
function ffmpegCli(file: string, fit: boolean): Promise<number> {
  const w = fit ? FIT.width : 768;
  const h = fit ? FIT.height : 576;
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    '-threads',
    '1',
    '-i',
    file,
    '-frames:v',
    String(LIMIT),
    '-an',
  ];
  if (fit) args.push('-vf', `scale=${w}:${h}:flags=bilinear`);
  args.push('-pix_fmt', 'bgr24', '-f', 'rawvideo', 'pipe:1');
  return new Promise((resolvePromise, reject) => {
    const t0 = performance.now();
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let bytes = 0;
    child.stdout.on('data', (c: Buffer) => {
      bytes += c.length;
    });
    child.on('error', reject);
    child.on('close', () => resolvePromise((bytes / (w * h * 3) / (performance.now() - t0)) * 1000));
  });
}

const rows: string[][] = [];
for (const name of ['vtest_h264.mp4', 'vtest.avi']) {
  const file = join(mediaDir, name);
  nodeAvSync(file, 'none'); // warm caches
  const row = [
    name,
    await best(() => nodeAvSync(file, 'none')),
    await best(() => nodeAvSync(file, 'full')),
    await best(() => nodeAvSync(file, 'fit')),
    await best(() => worker(file, false)),
    await best(() => worker(file, true)),
    await best(() => ffmpegCli(file, false).catch(() => Number.NaN)),
    await best(() => ffmpegCli(file, true).catch(() => Number.NaN)),
  ].map((v) => (typeof v === 'number' ? v.toFixed(0) : v));
  rows.push(row);
}
const header = [
  'file',
  '(a) sync decode',
  '(b) sync BGR24 768x576',
  '(c) sync BGR24 416x312',
  '(d) worker BGR24 full',
  '(d) worker BGR24 416x312',
  '(e) ffmpeg CLI full',
  '(e) ffmpeg CLI 416x312',
];
console.log(
  `node-av FFmpeg ${getFFmpegInfo().version}; ${LIMIT} frames per run, best of ${REPEAT}; frames/s, 1 decoder thread`,
);
console.log(`| ${header.join(' | ')} |`);
console.log(`|${header.map(() => '---').join('|')}|`);
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
