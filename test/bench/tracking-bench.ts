// `npm run bench:tracking`: tracker quality and cost.
//  1. Both trackers with their defaults on MOT15 TUD-Campus det.txt, scored like py-motmetrics (IoU 0.5),
//     beside the two peers measured on this machine (SORT, supervision ByteTrack).
//  2. Tracker update time per frame at 50 objects (synthetic walkers with noisy boxes): ByteTrack, DeepSORT
//     without embeddings, DeepSORT with 512-d embeddings where it asks for them, and for every detection.
//  3. The edge pipeline on vtest_h264.mp4 (yolox_nano, unpaced) with each tracker: distinct ids, mean track
//     length, crossings (two tracks overlapping, then apart) after which both ids are still there, fps, and
//     what re-ID costs per frame.
//   npm run bench:tracking [-- --frames 2000] [--objects 50] [--media vtest_h264.mp4] [--json out.json]
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  ByteTracker,
  DeepSortTracker,
  EdgeRuntime,
  evaluateMot,
  iou,
  l2Normalise,
  readMotFile,
  type Tracker,
  trackMotDetections,
} from '@sightline/edge';
import {
  type Box,
  type Detection,
  type FrameResult,
  parseEdgeConfig,
  TrackerConfig,
} from '@sightline/shared';

const shared = resolve(import.meta.dirname, '../../..', 'shared');
const motDir = process.env.SIGHTLINE_MOT_DIR ?? join(shared, 'mot');
const { values } = parseArgs({
  options: {
    frames: { type: 'string', default: '2000' },
    objects: { type: 'string', default: '50' },
    media: { type: 'string' },
    /** Extra tracker settings as JSON for the video runs, e.g. '{"maxCosineDistance":0.4}'. */
    settings: { type: 'string' },
    only: { type: 'string' },
    json: { type: 'string' },
  },
});
process.env.MODELS_DIR ??= join(shared, 'models');
process.env.SIGHTLINE_LOG_LEVEL ??= 'error';
const MEDIA =
  values.media ?? join(process.env.SIGHTLINE_MEDIA_DIR ?? join(shared, 'media'), 'vtest_h264.mp4');
const FRAMES = Number(values.frames);
const OBJECTS = Number(values.objects);

const pct = (v: number) => (v * 100).toFixed(2).padStart(6);

async function tudCampus() {
  const seq = join(motDir, 'TUD-Campus');
  const gt = await readMotFile(join(seq, 'gt.txt'));
  const det = await readMotFile(join(seq, 'det.txt'));
  console.log('\nTUD-Campus (71 frames, 8 people), det.txt, py-motmetrics scoring at IoU 0.5');
  console.log('tracker                 MOTA   IDF1   MOTP    FP   FN  IDSW   FM  MT PT ML');
  console.log(
    'SORT (peer)            62.67  60.65   (measured here with py-motmetrics; README publishes 62.7)',
  );
  console.log('supervision ByteTrack  59.61  66.56   (peer, measured here)');
  const rows = [];
  for (const type of ['bytetrack', 'deepsort'] as const) {
    const tracker = (type === 'bytetrack' ? ByteTracker : DeepSortTracker) as new (c: object) => Tracker;
    const hyp = trackMotDetections(new tracker(TrackerConfig.parse({ type })), det, { lastFrame: 71 });
    const m = evaluateMot(gt, hyp);
    rows.push({ tracker: type, ...m });
    console.log(
      `${`sightline ${type}`.padEnd(21)} ${pct(m.mota)} ${pct(m.idf1)} ${pct(1 - m.motp)} ${String(m.fp).padStart(5)} ${String(m.fn).padStart(4)} ${String(m.idsw).padStart(5)} ${String(m.frag).padStart(4)} ${String(m.mt).padStart(3)} ${String(m.pt).padStart(2)} ${String(m.ml).padStart(2)}`,
    );
  }
  return rows;
}

/** Deterministic pseudo-random numbers. */
function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 48271) % 2147483647;
    return s / 2147483647;
  };
}

/** OBJECTS walkers bouncing around a 1920x1080 frame, boxes jittered, 5 % of detections missed. */
function scene(frames: number, objects: number) {
  const r = rng(42);
  const people = Array.from({ length: objects }, (_, i) => ({
    x: r() * 1800,
    y: r() * 900,
    vx: (r() - 0.5) * 6,
    vy: (r() - 0.5) * 3,
    h: 80 + r() * 120,
    identity: i,
  }));
  const out: { dets: Detection[]; ids: number[] }[] = [];
  for (let f = 0; f < frames; f++) {
    const dets: Detection[] = [];
    const ids: number[] = [];
    for (const p of people) {
      p.x += p.vx;
      p.y += p.vy;
      if (p.x < 0 || p.x > 1850) p.vx = -p.vx;
      if (p.y < 0 || p.y > 1000) p.vy = -p.vy;
      if (r() < 0.05) continue;
      const j = () => (r() - 0.5) * 4;
      const box: Box = [p.x + j(), p.y + j(), p.x + p.h * 0.4 + j(), p.y + p.h + j()];
      dets.push({ box, score: 0.5 + r() * 0.5, classId: 0, label: 'person' });
      ids.push(p.identity);
    }
    out.push({ dets, ids });
  }
  return out;
}

function embeddingFor(identity: number, r: () => number): Float32Array {
  const v = new Float32Array(512);
  for (let i = 0; i < v.length; i++) v[i] = (r() - 0.5) * 0.1;
  v[identity % 512] = (v[identity % 512] as number) + 1;
  return l2Normalise(v);
}

function timeTracker(name: string, tracker: Tracker, appearance: 'none' | 'wanted' | 'all') {
  const frames = scene(FRAMES, OBJECTS);
  const r = rng(7);
  const warm = Math.min(200, FRAMES / 4);
  let ms = 0;
  let embedded = 0;
  frames.forEach(({ dets, ids }, f) => {
    let embeddings: (Float32Array | undefined)[] | undefined;
    if (appearance !== 'none') {
      const wanted = appearance === 'all' ? dets.map(() => true) : (tracker.appearanceWanted?.(dets) ?? []);
      embeddings = dets.map((_, i) => (wanted[i] ? embeddingFor(ids[i] as number, r) : undefined));
      if (f >= warm) embedded += embeddings.filter(Boolean).length;
    }
    const t0 = performance.now();
    tracker.update(dets, embeddings ? { embeddings } : undefined);
    if (f >= warm) ms += performance.now() - t0;
  });
  const n = FRAMES - warm;
  const row = { tracker: name, msPerFrame: ms / n, embeddingsPerFrame: embedded / n };
  console.log(
    `${name.padEnd(34)} ${row.msPerFrame.toFixed(3).padStart(7)} ms/frame  ${appearance === 'none' ? '' : `${row.embeddingsPerFrame.toFixed(1)} embeddings/frame`}`,
  );
  return row;
}

const only = new Set((values.only ?? 'mot,cost,video').split(','));
const quality = only.has('mot') ? await tudCampus() : [];
if (only.has('cost')) {
  console.log(
    `\nTracker update time per frame, ${OBJECTS} objects, ${FRAMES} frames (first ${Math.min(200, FRAMES / 4)} not timed)`,
  );
}
const cost = !only.has('cost')
  ? []
  : [
      timeTracker('bytetrack', new ByteTracker(), 'none'),
      timeTracker('deepsort, no embeddings', new DeepSortTracker(), 'none'),
      timeTracker('deepsort, embeddings when wanted', new DeepSortTracker(), 'wanted'),
      timeTracker('deepsort, embeddings every frame', new DeepSortTracker(), 'all'),
    ];

/** Run the edge on the video with `tracker` and collect every frame's result. */
async function runVideo(tracker: 'bytetrack' | 'deepsort') {
  const runtime = new EdgeRuntime(
    parseEdgeConfig({
      edgeId: 'bench',
      streams: [{ id: 'v', source: MEDIA, realtime: false }],
      detector: { classes: ['person'] },
      tracker: { type: tracker, ...(tracker === 'deepsort' ? JSON.parse(values.settings ?? '{}') : {}) },
    }),
  );
  const results: FrameResult[] = [];
  runtime.on('result', (r) => results.push(r));
  const t0 = performance.now();
  const ended = new Promise((resolve) => runtime.once('end', () => resolve(undefined)));
  await runtime.start();
  await ended;
  const seconds = (performance.now() - t0) / 1000;
  await runtime.close();
  return { results, seconds };
}

/**
 * Crossings: two tracks whose boxes overlap (IoU >= 0.3) and later are apart again (IoU < 0.05 or one gone for
 * good). A crossing is survived when both ids are still reported within 15 frames after it.
 */
function crossings(results: FrameResult[]) {
  // Frames (seq) each id is reported on.
  const seen = new Map<number, Set<number>>();
  for (const r of results) {
    for (const t of r.tracks) {
      const s = seen.get(t.trackId) ?? new Set<number>();
      s.add(r.seq);
      seen.set(t.trackId, s);
    }
  }
  const reportedWithin = (id: number, from: number, frames: number): boolean => {
    const s = seen.get(id);
    for (let f = from + 1; f <= from + frames; f++) if (s?.has(f)) return true;
    return false;
  };
  const open = new Map<string, number>();
  let total = 0;
  let survived = 0;
  for (const r of results) {
    const f = r.seq;
    const overlapping = new Set<string>();
    for (let i = 0; i < r.tracks.length; i++) {
      for (let j = i + 1; j < r.tracks.length; j++) {
        const a = r.tracks[i]!;
        const b = r.tracks[j]!;
        const key = `${Math.min(a.trackId, b.trackId)}:${Math.max(a.trackId, b.trackId)}`;
        const v = iou(a.box, b.box);
        if (v >= 0.3) {
          open.set(key, f);
          overlapping.add(key);
        } else if (v < 0.05 && open.has(key)) {
          // Both reported on this frame and apart again.
          open.delete(key);
          total++;
          survived++;
        }
      }
    }
    // A pair no longer reported together 15 frames after its last overlap: did both ids come back in them?
    for (const [key, since] of open) {
      if (overlapping.has(key) || f - since < 15) continue;
      open.delete(key);
      total++;
      const [a, b] = key.split(':').map(Number) as [number, number];
      if (reportedWithin(a, since, 15) && reportedWithin(b, since, 15)) survived++;
    }
  }
  return { total, survived };
}

console.log(`\nEdge pipeline on ${MEDIA.split('/').pop()} (yolox_nano, persons, unpaced), each tracker`);
const video = [];
for (const tracker of only.has('video') ? (['bytetrack', 'deepsort'] as const) : []) {
  const { results, seconds } = await runVideo(tracker);
  const lengths = new Map<number, number>();
  let embedMs = 0;
  let embedFrames = 0;
  for (const r of results) {
    for (const t of r.tracks) lengths.set(t.trackId, (lengths.get(t.trackId) ?? 0) + 1);
    if (r.timings.embedMs !== undefined) {
      embedMs += r.timings.embedMs;
      embedFrames++;
    }
  }
  const lens = [...lengths.values()];
  const mean = lens.reduce((a, b) => a + b, 0) / Math.max(1, lens.length);
  const c = crossings(results);
  const row = {
    tracker,
    frames: results.length,
    fps: results.length / seconds,
    ids: lengths.size,
    meanTrackLength: mean,
    shortIds: lens.filter((n) => n < 10).length,
    crossings: c.total,
    crossingsSurvived: c.survived,
    framesWithEmbedding: embedFrames,
    embedMsPerFrame: embedMs / Math.max(1, results.length),
  };
  video.push(row);
  console.log(
    `${tracker.padEnd(10)} ${row.frames} frames ${row.fps.toFixed(1)} fps; ${row.ids} ids, mean length ${mean.toFixed(1)} frames, ${row.shortIds} ids under 10 frames; crossings ${c.survived}/${c.total} survived${tracker === 'deepsort' ? `; re-ID on ${embedFrames} frames, ${row.embedMsPerFrame.toFixed(1)} ms waited per frame` : ''}`,
  );
}
if (values.json) writeFileSync(values.json, JSON.stringify({ quality, cost, video }, null, 2));
