/**
 * `sightline tune` as a user runs it: a short real measurement that stores tuning.json and prints the table, the
 * edge starting with the stored layout (and saying so), bad flags (exit 2) and an unknown model (exit 1).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cliEnv, cliHarness } from './cli-harness.ts';
import { media } from './helpers.ts';

const { dir, run } = cliHarness('sightline-e2e-tune-');
const env = cliEnv({ SIGHTLINE_STATE_DIR: join(dir, 'state') });

describe('sightline tune', () => {
  test('a short real run stores the best layout with its table and prints the table; the edge starts with it', async () => {
    const r = await run(['tune', '--model', 'yolox_nano', '--seconds', '0.3', '--max-candidates', '2'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /sessions\s+threads\s+spinning\s+frames\/s\s+p50 ms\s+p95 ms\s+calls/);
    assert.match(r.stdout, /^\*/m, 'the chosen row is marked');
    assert.match(r.stdout, /stored in .*tuning\.json/);
    assert.match(r.stderr, /\[[#-]+\] 2\/2 /, 'progress bar');
    const file = JSON.parse(readFileSync(join(dir, 'state', 'tuning.json'), 'utf8'));
    const [tuning] = Object.values(file.tunings) as {
      model: string;
      provider: string;
      sha256: string;
      table: { fps: number; calls: number }[];
    }[];
    assert.equal(tuning?.model, 'yolox_nano');
    assert.equal(tuning?.provider, 'cpu');
    assert.match(tuning!.sha256, /^[0-9a-f]{64}$/);
    assert.equal(tuning?.table.length, 2);
    assert.ok(tuning!.table.every((row) => row.fps > 0 && row.calls > 0));

    // The edge takes the stored layout when the config leaves it to defaults, and says so.
    const edge = await run(
      ['edge', 'run', '--source', media('vtest.avi'), '--frames', '3', '--unpaced'],
      cliEnv({ SIGHTLINE_STATE_DIR: join(dir, 'state'), SIGHTLINE_LOG_LEVEL: 'info' }),
    );
    assert.equal(edge.code, 0, edge.stderr);
    assert.match(
      edge.stderr,
      /using tuned layout \d+ sessions? x \d+ threads?, spinning o(n|ff) measured 20/,
    );
  });

  test('--json prints the stored tuning', async () => {
    const r = await run(
      ['tune', '--model', 'yolox_nano', '--seconds', '0.2', '--max-candidates', '1', '--json'],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.model, 'yolox_nano');
    assert.equal(out.table.length, 1);
    assert.ok(out.path.endsWith('tuning.json'));
  });

  test('bad flags are usage errors (exit 2); an unknown model is an error (exit 1)', async () => {
    const bad = [
      ['tune'],
      ['tune', '--model', 'yolox_nano', '--seconds', '0'],
      ['tune', '--model', 'yolox_nano', '--budget-ms', 'x'],
      ['tune', '--model', 'yolox_nano', '--provider', 'tpu'],
      ['tune', '--model', 'yolox_nano', '--bogus'],
    ];
    const runs = await Promise.all([...bad, ['tune', '--model', 'nope']].map((args) => run(args, env)));
    for (const [i, args] of bad.entries()) {
      assert.equal(runs[i]!.code, 2, `${args.join(' ')}: ${runs[i]!.stderr}`);
      assert.match(runs[i]!.stderr, /Run "sightline help tune"/);
    }
    const unknown = runs[bad.length]!;
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /nope/);
  });
});
