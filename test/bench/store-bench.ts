// Hub store benchmark: track points inserted in batches of 500 into PGlite and PostgreSQL.
//   node --conditions=sightline-source --import tsx test/bench/store-bench.ts [--counts 10000,100000] [--backend pglite|postgres]
// Without --backend, each backend runs in its own child process (so PGlite's peak RSS is its own).
// PostgreSQL: DATABASE_URL or postgres://postgres@127.0.0.1:5432/test, in a throw-away schema.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  deleteTrackPointsBefore,
  insertTrackPoints,
  openStore,
  queryTrackPoints,
  type Store,
  type TrackPointRow,
} from '@sightline/hub';
import { sql } from 'drizzle-orm';

const { values } = parseArgs({
  options: { counts: { type: 'string', default: '10000,100000' }, backend: { type: 'string' } },
});
const counts = values.counts.split(',').map(Number);
const pgUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const T0 = Date.parse('2026-01-01T00:00:00Z');
const TRACKS_PER_MESSAGE = 10;

/** `n` points: 10 tracks per message, one message per 40 ms frame. */
function makePoints(n: number): TrackPointRow[] {
  const out: TrackPointRow[] = [];
  for (let i = 0; i < n; i++) {
    const seq = Math.floor(i / TRACKS_PER_MESSAGE);
    const x = (i * 37) % 700;
    out.push({
      edgeId: 'bench',
      streamId: 'cam1',
      run: 'r1',
      seq,
      trackId: 1 + (i % TRACKS_PER_MESSAGE),
      ts: new Date(T0 + seq * 40),
      x1: x,
      y1: 100,
      x2: x + 40,
      y2: 220,
      score: 0.8,
    });
  }
  return out;
}

const ms = (t0: number) => Math.round(performance.now() - t0);
const mib = (bytes: number) => Math.round(bytes / 1048576);

interface CaseResult {
  backend: string;
  points: number;
  createMs: number;
  insertMs: number;
  pointsPerS: number;
  replayPointsPerS: number;
  queryMs: number;
  retentionMs: number;
  reopenMs?: number;
}

async function runCase(backend: string, n: number): Promise<CaseResult> {
  const dir = backend === 'pglite' ? mkdtempSync(join(tmpdir(), 'sightline-store-bench-')) : '';
  const schema = `store_bench_${process.pid}_${n}`;
  const open = (): Promise<Store> =>
    backend === 'pglite'
      ? openStore({ dataDir: dir, databaseUrl: '' })
      : openStore({ databaseUrl: pgUrl, schema });
  const points = makePoints(n);
  let t = performance.now();
  let store = await open();
  const createMs = ms(t);
  t = performance.now();
  const inserted = await insertTrackPoints(store, points);
  const insertMs = ms(t);
  if (inserted !== n) throw new Error(`inserted ${inserted} of ${n}`);
  t = performance.now();
  const replayed = await insertTrackPoints(store, points);
  const replayMs = ms(t);
  if (replayed !== 0) throw new Error(`replay inserted ${replayed}`);
  t = performance.now();
  const got = await queryTrackPoints(store, {
    edgeId: 'bench',
    streamId: 'cam1',
    from: new Date(T0 + 1000 * 40),
    to: new Date(T0 + 1100 * 40),
  });
  const queryMs = ms(t);
  if (got.length !== Math.min(1000, Math.max(0, n - 10_000))) throw new Error(`query got ${got.length}`);
  let reopenMs: number | undefined;
  if (backend === 'pglite') {
    await store.close();
    t = performance.now();
    store = await open();
    reopenMs = ms(t);
  }
  t = performance.now();
  await deleteTrackPointsBefore(store, new Date(T0 + (n / TRACKS_PER_MESSAGE / 2) * 40));
  const retentionMs = ms(t);
  if (backend === 'postgres') await store.db.execute(sql.raw(`drop schema ${schema} cascade`));
  await store.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  return {
    backend,
    points: n,
    createMs,
    insertMs,
    pointsPerS: Math.round((n / insertMs) * 1000),
    replayPointsPerS: Math.round((n / replayMs) * 1000),
    queryMs,
    retentionMs,
    reopenMs,
  };
}

if (values.backend) {
  const rssBefore = process.memoryUsage().rss;
  const results: CaseResult[] = [];
  for (const n of counts) results.push(await runCase(values.backend, n));
  const peakRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
  console.log(JSON.stringify({ results, rssBeforeMiB: mib(rssBefore), peakRssMiB }));
} else {
  console.log(
    `| backend | points | open ms | insert ms | points/s | replay points/s | 1000-point query ms | retention ms | reopen ms | peak RSS MiB |`,
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const backend of ['pglite', 'postgres']) {
    const child = spawnSync(
      process.execPath,
      [...process.execArgv, process.argv[1]!, '--backend', backend, '--counts', values.counts],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const line = child.stdout.trim().split('\n').at(-1) ?? '';
    if (child.status !== 0 || !line.startsWith('{')) {
      console.log(`| ${backend} | failed (exit ${child.status}) |`);
      continue;
    }
    const out = JSON.parse(line) as { results: CaseResult[]; peakRssMiB: number; rssBeforeMiB: number };
    for (const r of out.results) {
      console.log(
        `| ${r.backend} | ${r.points} | ${r.createMs} | ${r.insertMs} | ${r.pointsPerS} | ${r.replayPointsPerS} | ${r.queryMs} | ${r.retentionMs} | ${r.reopenMs ?? '-'} | ${out.peakRssMiB} (${out.rssBeforeMiB} before open) |`,
      );
    }
  }
}
