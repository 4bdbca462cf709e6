// `sightline eval mot` end to end: the command's output, JSON, usage errors and malformed input.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseMot } from '@sightline/edge';
import { type CliRun, collectRun } from './helpers.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'sightline.js');
const motDir = process.env.SIGHTLINE_MOT_DIR;
const noData = !motDir && 'SIGHTLINE_MOT_DIR not set';
const seq = (file: string) => join(motDir as string, 'TUD-Campus', file);

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sightline-e2e-eval-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

type Run = CliRun;

/** Run `sightline ...args` from the sources to its end. */
function run(args: string[], timeoutMs = 60_000): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, SIGHTLINE_FROM_SOURCE: '1', SIGHTLINE_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return collectRun(child, args, timeoutMs);
}

describe('sightline eval mot', () => {
  test('--hyp prints the devkit table with py-motmetrics reference values for TUD-Campus', {
    skip: noData,
  }, async () => {
    const r = await run(['eval', 'mot', '--gt', seq('gt.txt'), '--hyp', seq('test.txt')]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    const head = lines.findIndex((l) => l.trim().startsWith('IDF1'));
    assert.ok(head >= 0, r.stdout);
    const names = lines[head]!.trim().split(/\s+/);
    const values = lines[head + 1]!.trim().split(/\s+/);
    const row = Object.fromEntries(names.map((n, i) => [n, values[i]]));
    assert.deepEqual(row, {
      IDF1: '55.8',
      IDP: '73.0',
      IDR: '45.1',
      Rcll: '58.2',
      Prcn: '94.1',
      GT: '8',
      MT: '1',
      PT: '6',
      ML: '1',
      FP: '13',
      FN: '150',
      IDs: '7',
      FM: '7',
      MOTA: '52.6',
      MOTP: '72.3',
    });
    assert.match(r.stdout, /MOTP as distance \(1 - IoU\) 0\.2772/);
  });

  test('--json prints one object with the reference values', { skip: noData }, async () => {
    const r = await run(['eval', 'mot', '--gt', seq('gt.txt'), '--hyp', seq('test.txt'), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse(r.stdout) as Record<string, number>;
    const expected = {
      idf1: 0.557659,
      idp: 0.72973,
      idr: 0.451253,
      recall: 0.582173,
      precision: 0.941441,
      mota: 0.526462,
      motp: 0.277201,
    };
    for (const [k, v] of Object.entries(expected)) assert.ok(Math.abs((m[k] as number) - v) < 1e-3, `${k}`);
    const { fp, fn, idsw, frag, mt, pt, ml, numObjects } = m;
    assert.deepEqual(
      { fp, fn, idsw, frag, mt, pt, ml, numObjects },
      {
        fp: 13,
        fn: 150,
        idsw: 7,
        frag: 7,
        mt: 1,
        pt: 6,
        ml: 1,
        numObjects: 359,
      },
    );
  });

  test('--det runs ByteTrack on the detections, --out writes its results', { skip: noData }, async () => {
    const out = join(dir, 'res', 'bytetrack.txt');
    const r = await run([
      'eval',
      'mot',
      '--gt',
      seq('gt.txt'),
      '--det',
      seq('det.txt'),
      '--out',
      out,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse(r.stdout) as Record<string, number>;
    const records = parseMot(readFileSync(out, 'utf8'), out);
    assert.equal(records.length, m.numPredictions);
    assert.ok(records.length > 0 && records.every((x) => x.id > 0));
    // SORT's published result on these detections is MOTA 62.7 (devkit); ByteTrack lands in that region.
    assert.ok((m.mota as number) > 0.4, `MOTA ${m.mota}`);
  });

  test('without --gt: usage error, exit 2', async () => {
    const r = await run(['eval', 'mot', '--hyp', join(dir, 'x.txt')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /eval mot needs --gt/);
    assert.match(r.stderr, /sightline help eval/);
    const both = await run(['eval', 'mot', '--gt', 'a.txt', '--hyp', 'b.txt', '--det', 'c.txt']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /one of --hyp or --det/);
  });

  test('a malformed gt line: exit 1 naming the file and line; a missing file is named too', async () => {
    const gt = join(dir, 'bad-gt.txt');
    const hyp = join(dir, 'hyp.txt');
    writeFileSync(gt, '1,1,10,10,20,40,1,-1,-1,-1\n2,1,10,10,20,40,1,-1,-1,-1\n3,1,10,10,20\n');
    writeFileSync(hyp, '1,1,10,10,20,40,-1,-1,-1,-1\n');
    const r = await run(['eval', 'mot', '--gt', gt, '--hyp', hyp]);
    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes(`FORMAT_INVALID: ${gt}:3: expected 6 to 10`), r.stderr);
    assert.equal(r.stdout, '');
    const missing = await run(['eval', 'mot', '--gt', hyp, '--hyp', join(dir, 'nope.txt')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Cannot read MOT file .*nope\.txt/);
  });
});
