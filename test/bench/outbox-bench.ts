// Uplink journal + outbox benchmark: the cost of writing each frame's points ahead (group commit) and of cutting
// batches into the outbox, for each fsync policy, against the path without a journal.
//   node --conditions=sightline-source --import tsx test/bench/outbox-bench.ts [--turns 2000] [--streams 2]
//        [--tracks 8] [--frames-per-batch 5] [--repeat 3] [--dir DIR]
// Each turn is one event-loop turn in which every stream produces one frame of `tracks` confirmed tracks; every
// `frames-per-batch` turns the batcher cuts every stream into the outbox (10 fps and flushMs 500 -> 5), and each
// batch is acked (deleted) at once, as with a hub that keeps up. Times are of the synchronous work only (what blocks
// the event loop): the batcher's calls, the journal's commit and the cut. The folder must be on the real disk (not
// tmpfs, where fsync costs nothing): default test/artifacts/outbox-bench. Results also in
// test/artifacts/bench-outbox.json.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Encoder } from '@msgpack/msgpack';
import { Journal, Outbox, UplinkBatcher } from '@sightline/edge';
import type { FrameResult, Track } from '@sightline/shared';

const ROOT = resolve(import.meta.dirname, '..', '..');
const { values } = parseArgs({
  options: {
    turns: { type: 'string', default: '2000' },
    streams: { type: 'string', default: '2' },
    tracks: { type: 'string', default: '8' },
    'frames-per-batch': { type: 'string', default: '5' },
    repeat: { type: 'string', default: '3' },
    dir: { type: 'string', default: join(ROOT, 'test', 'artifacts', 'outbox-bench') },
  },
});
const TURNS = Number(values.turns);
const STREAMS = Number(values.streams);
const TRACKS = Number(values.tracks);
const PER_BATCH = Number(values['frames-per-batch']);
const REPEAT = Number(values.repeat);
const DIR = resolve(values.dir);
const FPS = 10;

type Policy = 'off' | 'none' | 'batch' | 'always';
const POLICIES: Policy[] = ['off', 'none', 'batch', 'always'];

const encoder = new Encoder({ ignoreUndefined: true });

function frame(streamId: string, turn: number): FrameResult {
  const tracks: Track[] = [];
  for (let i = 1; i <= TRACKS; i++) {
    const x = (turn * 3 + i * 70) % 700;
    tracks.push({
      trackId: i,
      box: [x + 0.5, 100.25, x + 40.75, 220.5],
      score: 0.5 + i / 100,
      classId: 0,
      label: 'person',
      status: 'confirmed',
      age: turn,
      hits: turn,
      timeSinceUpdate: 0,
    });
  }
  return {
    streamId,
    seq: turn,
    pts: turn,
    width: 768,
    height: 576,
    capturedAt: 1_767_225_600_000 + turn * 100,
    detections: [],
    tracks,
    timings: {},
  };
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
};

interface Result {
  policy: Policy;
  /** Mean synchronous cost per frame, everything included (µs). */
  usPerFrame: number;
  /** Typical cost per frame: the median turn and the median cut, spread over their frames (µs). */
  usPerFrameP50: number;
  /** One turn's addResult calls and group commit (µs). */
  turnP50: number;
  turnP99: number;
  /** One cut of every stream into the outbox, with the journal reset (ms). */
  cutP50: number;
  cutP99: number;
  /** Frames per second of synchronous work (one core, nothing else). */
  framesPerSecond: number;
  /** fsync calls per second at the paced rate (FPS per stream). */
  fsyncsPerPacedSecond: number;
  /** Event-loop time blocked per second at the paced rate (ms). */
  blockedMsPerPacedSecond: number;
  journalBytesPerFrame: number;
}

async function runOnce(policy: Policy, rep: number): Promise<Result> {
  const dir = join(DIR, `${policy}-${rep}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const run = `bench-${policy}-${rep}`;
  const durable = policy === 'batch' || policy === 'always';
  const outbox = Outbox.open({ dir: join(dir, 'outbox'), durable });
  const journal =
    policy === 'off' ? undefined : Journal.open({ dir: join(dir, 'journal'), run, fsync: policy });
  let outboxFsyncs = 0;
  const batcher = new UplinkBatcher({
    run,
    flushMs: 3_600_000,
    journal,
    onBatch: (b) => {
      outbox.append({ streamId: b.streamId, run: b.run, seq: b.seq }, encoder.encode(b));
      if (durable) outboxFsyncs += 2;
      outbox.ack(b.streamId, b.run, b.seq);
    },
  });
  const streams = Array.from({ length: STREAMS }, (_, i) => `cam${i + 1}`);
  const turns: number[] = [];
  const cuts: number[] = [];
  let total = 0;
  for (let turn = 1; turn <= TURNS; turn++) {
    const frames = streams.map((s) => frame(s, turn));
    const t0 = process.hrtime.bigint();
    for (const f of frames) batcher.addResult(f);
    journal?.commit(); // what the journal's setImmediate does at the end of this turn
    const t1 = process.hrtime.bigint();
    turns.push(Number(t1 - t0) / 1e3);
    total += Number(t1 - t0);
    if (turn % PER_BATCH === 0) {
      const c0 = process.hrtime.bigint();
      batcher.flush();
      const c1 = process.hrtime.bigint();
      cuts.push(Number(c1 - c0) / 1e6);
      total += Number(c1 - c0);
    }
    await nextTurn();
  }
  batcher.close();
  const stats = journal?.stats();
  journal?.close();
  outbox.close();
  rmSync(dir, { recursive: true, force: true });
  const frames = TURNS * STREAMS;
  const pacedSeconds = TURNS / FPS;
  return {
    policy,
    usPerFrame: total / 1e3 / frames,
    usPerFrameP50: quantile(turns, 0.5) / STREAMS + (quantile(cuts, 0.5) * 1e3) / (PER_BATCH * STREAMS),
    turnP50: quantile(turns, 0.5),
    turnP99: quantile(turns, 0.99),
    cutP50: quantile(cuts, 0.5),
    cutP99: quantile(cuts, 0.99),
    framesPerSecond: frames / (total / 1e9),
    fsyncsPerPacedSecond: ((stats?.syncs ?? 0) + outboxFsyncs) / pacedSeconds,
    blockedMsPerPacedSecond: total / 1e6 / pacedSeconds,
    journalBytesPerFrame: (stats?.bytes ?? 0) / frames,
  };
}

mkdirSync(DIR, { recursive: true });
console.log(
  `outbox bench: ${TURNS} turns x ${STREAMS} streams x ${TRACKS} tracks, a cut every ${PER_BATCH} frames per stream, ${REPEAT} rounds, in ${DIR}`,
);
// Rounds interleave the policies, so that a noisy neighbour hits them all alike; the median round is reported.
const all: Result[][] = POLICIES.map(() => []);
for (let rep = 0; rep < REPEAT; rep++) {
  for (const [i, p] of POLICIES.entries()) all[i]!.push(await runOnce(p, rep));
}
const median = (rs: Result[]) =>
  [...rs].sort((a, b) => a.usPerFrameP50 - b.usPerFrameP50)[Math.floor(rs.length / 2)]!;
const results = all.map(median);
const base = results[0]!.usPerFrameP50;
const f = (x: number, d = 1) => x.toFixed(d);
console.log(
  '\n| fsync | µs/frame p50 | vs no journal | µs/frame mean | turn p50 / p99 (µs) | cut p50 / p99 (ms) | frames/s (1 core) | fsyncs/s at 10 fps | loop blocked at 10 fps | journal B/frame |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of results) {
  console.log(
    `| ${r.policy === 'off' ? 'no journal (before)' : `\`${r.policy}\``} | ${f(r.usPerFrameP50)} | ${f(r.usPerFrameP50 / base, 2)}x | ${f(r.usPerFrame)} | ${f(r.turnP50, 0)} / ${f(r.turnP99, 0)} | ${f(r.cutP50, 2)} / ${f(r.cutP99, 2)} | ${f(r.framesPerSecond, 0)} | ${f(r.fsyncsPerPacedSecond)} | ${f(r.blockedMsPerPacedSecond, 2)} ms/s | ${f(r.journalBytesPerFrame, 0)} |`,
  );
}
mkdirSync(join(ROOT, 'test', 'artifacts'), { recursive: true });
writeFileSync(
  join(ROOT, 'test', 'artifacts', 'bench-outbox.json'),
  `${JSON.stringify({ turns: TURNS, streams: STREAMS, tracks: TRACKS, perBatch: PER_BATCH, rounds: all }, null, 2)}\n`,
);
