/** The loader: native when built, TypeScript with SIGHTLINE_NATIVE=0 (in a fresh process too), and one log line. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { PreprocessSpec } from '@sightline/shared';
import { kernels, kernelsDescription, nativeKernels, selectKernels, tsKernels } from './index.ts';
import { motionMask } from './motion.ts';
import { NO_NATIVE, randomFrame } from './test-helpers.ts';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');

describe('kernel selection', () => {
  test('SIGHTLINE_NATIVE=0 selects the TypeScript kernels', () => {
    const s = selectKernels({ SIGHTLINE_NATIVE: '0' });
    assert.equal(s.kernels, tsKernels);
    assert.equal(s.native, undefined);
    assert.equal(s.kernels.kind, 'typescript');
    assert.match(s.description, /TypeScript \(SIGHTLINE_NATIVE=0\)/);
  });

  test('kernels is the native set when it loaded, and the description says which', () => {
    assert.equal(kernels, nativeKernels ?? tsKernels);
    assert.match(kernelsDescription, nativeKernels ? /^pixel kernels: native/ : /^pixel kernels: TypeScript/);
    assert.ok(!kernelsDescription.includes('\n'));
  });

  test('native is selected by default when built', { skip: NO_NATIVE }, () => {
    const s = selectKernels({});
    assert.equal(s.kernels.kind, 'native');
  });

  test('a fresh process with SIGHTLINE_NATIVE=0 runs every kernel on the fallback', () => {
    const script = `
      import { kernels, kernelsDescription } from './edge/src/native/index.ts';
      const img = { data: new Uint8Array(40 * 30 * 3).map((_, i) => (i * 37) % 256), width: 40, height: 30 };
      const spec = { resize: 'letterbox', align: 'center', padValue: 114, layout: 'NCHW', colour: 'RGB', scale: 1, mean: [0, 0, 0], std: [1, 1, 1] };
      const out = new Float32Array(3 * 32 * 32);
      kernels.letterboxInto(img, spec, { width: 32, height: 32 }, out);
      const crops = kernels.cropResize(img, [[0, 0, 20, 20]], 8, 16);
      const dn = kernels.denoiseNlm(img);
      const yc = kernels.bgrToYcbcr(img);
      const m = kernels.motionMask(img.data, dn.data, 40, 30);
      console.log(JSON.stringify({ kind: kernels.kind, kernelsDescription, crops: crops.valid[0], y: yc.y.length, fraction: m.fraction }));
    `;
    const r = spawnSync(
      process.execPath,
      ['--conditions=sightline-source', '--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: ROOT, env: { ...process.env, SIGHTLINE_NATIVE: '0' }, encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.equal(got.kind, 'typescript');
    assert.equal(got.kernelsDescription, 'pixel kernels: TypeScript (SIGHTLINE_NATIVE=0)');
    assert.equal(got.crops, 1);
    assert.equal(got.y, 40 * 30);
    assert.ok(got.fraction >= 0 && got.fraction <= 1);
  });
});

describe('motionMask (TypeScript)', () => {
  const w = 64;
  const h = 48;
  const still = randomFrame(w, h, 1);

  test('identical frames: no motion', () => {
    const r = motionMask(still.data, still.data, w, h);
    assert.equal(r.changed, 0);
    assert.equal(r.fraction, 0);
    assert.equal(r.mask.length, w * h);
  });

  test('a moved block is found and single-pixel specks are opened away', () => {
    const cur = still.data.slice();
    const paint = (x0: number, y0: number, bw: number, bh: number) => {
      for (let y = y0; y < y0 + bh; y++) cur.fill(255, (y * w + x0) * 3, (y * w + x0 + bw) * 3);
    };
    const prev = still.data.slice();
    for (let y = 10; y < 30; y++) prev.fill(0, (y * w + 20) * 3, (y * w + 40) * 3);
    cur.set(prev);
    paint(20, 10, 20, 20); // the block turned white: 400 pixels
    paint(2, 2, 1, 1); // a speck
    paint(60, 40, 1, 1); // another
    const r = motionMask(prev, cur, w, h, { threshold: 30 });
    assert.equal(r.mask[2 * w + 2], 0, 'speck removed');
    assert.equal(r.mask[40 * w + 60], 0, 'speck removed');
    assert.equal(r.mask[20 * w + 30], 255, 'block found');
    assert.equal(r.changed, 400);
    assert.equal(r.fraction, 400 / (w * h));
    const raw = motionMask(prev, cur, w, h, { threshold: 30, openRadius: 0, closeRadius: 0 });
    assert.equal(raw.changed, 402, 'without the opening the specks stay');
  });

  test('luma planes work like BGR frames', () => {
    const a = new Uint8Array(w * h).fill(100);
    const b = a.slice();
    b.fill(200, 10 * w, 20 * w);
    const r = motionMask(a, b, w, h, { threshold: 50 });
    assert.equal(r.changed, 10 * w);
  });
});

describe('letterboxInto through kernels', () => {
  test('matches preprocessInto on the selected implementation', () => {
    const spec = PreprocessSpec.parse({ resize: 'letterbox', layout: 'NCHW', colour: 'BGR' });
    const img = randomFrame(77, 55, 3);
    const a = new Float32Array(3 * 64 * 64);
    const b = new Float32Array(3 * 64 * 64);
    tsKernels.letterboxInto(img, spec, { width: 64, height: 64 }, a);
    kernels.letterboxInto(img, spec, { width: 64, height: 64 }, b);
    assert.deepEqual(b, a);
  });
});
