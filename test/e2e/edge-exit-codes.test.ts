/**
 * `sightline edge run` exit codes (docs/operations.md, "Exit codes"): 0 clean end, 1 error before any stream
 * starts (a config field naming a class or model that does not exist included), 2 usage error, 3 one or more
 * streams failed (named on the last line) while the others ran to their end.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { EdgeRuntime } from '@sightline/edge';
import { ConfigError, type FrameResult, parseEdgeConfig } from '@sightline/shared';
import { cliHarness } from './cli-harness.ts';
import { media } from './helpers.ts';

const { dir, run } = cliHarness('sightline-e2e-exit-');

function lastLine(text: string): string {
  return text.trimEnd().split('\n').at(-1) ?? '';
}

function results(path: string): FrameResult[] {
  return readFileSync(path, 'utf8')
    .trimEnd()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as FrameResult);
}

describe('sightline edge run exit codes', () => {
  test('0: every stream ended cleanly', async () => {
    const r = await run(['edge', 'run', '--source', media('vtest_h264.mp4'), '--unpaced', '--frames', '5']);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /failed/);
  });

  test('1: a typo in detector.classes stops the start before any decoding, naming the field and suggesting the label', async () => {
    const config = join(dir, 'typo.yaml');
    // The config file names the stream too: a file without streams is refused before its classes are looked at.
    writeFileSync(
      config,
      `streams:\n  - source: ${JSON.stringify(media('vtest_h264.mp4'))}\ndetector:\n  classes: [persn, car]\n`,
    );
    const out = join(dir, 'typo.jsonl');
    const r = await run(['edge', 'run', '--config', config, '--frames', '5', '--out', out]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /CONFIG_INVALID/);
    assert.match(r.stderr, /detector\.classes\.0: "persn" is not a class label of detector model yolox_nano/);
    assert.match(r.stderr, /did you mean "person"\?/);
    assert.doesNotMatch(r.stderr, /car"? is not/, 'a valid class is not reported');
    assert.doesNotMatch(r.stderr, /INFERENCE_FAILED|edge stopped/, 'nothing ran');
    assert.ok(!existsSync(out), 'the sinks were never opened: the check comes before anything starts');
  });

  test('1: an unknown detector model suggests the closest one', async () => {
    const r = await run(['edge', 'run', '--source', media('vtest_h264.mp4'), '--model', 'yolox_nan']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /detector\.model: "yolox_nan" is not a model in the manifest; did you mean "yolox_nano"\?/,
    );
  });

  test('2: a usage error', async () => {
    const r = await run(['edge', 'run', '--source', media('vtest_h264.mp4'), '--frames', 'many']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--frames/);
  });

  test('3: one stream failed, named on the last line; the good stream still ran to its end', async () => {
    const missing = join(dir, 'missing.mp4');
    const out = join(dir, 'mixed.jsonl');
    const r = await run([
      'edge',
      'run',
      '--source',
      media('vtest_h264.mp4'),
      '--source',
      missing,
      '--unpaced',
      '--frames',
      '20',
      '--out',
      out,
    ]);
    assert.equal(r.code, 3, r.stderr);
    assert.ok(r.stderr.includes(`stream cam2 failed: SOURCE_INVALID: No such file: ${missing}`), r.stderr);
    assert.equal(lastLine(r.stderr), 'sightline: 1 of 2 stream(s) failed: cam2');
    const got = results(out);
    assert.equal(got.filter((x) => x.streamId === 'cam1').length, 20, 'every frame of the good stream');
    assert.equal(got.filter((x) => x.streamId === 'cam2').length, 0);
  });
});

describe('EdgeRuntime: the same reference check at start and on a live config change', () => {
  test('start() rejects a class typo before any stream starts; applyConfig() rejects one and changes nothing', async () => {
    const bad = new EdgeRuntime(
      parseEdgeConfig({
        streams: [{ source: media('vtest_h264.mp4'), realtime: false }],
        detector: { classes: ['persn'] },
      }),
    );
    await assert.rejects(bad.start(), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /detector\.classes\.0: "persn" .*did you mean "person"\?/);
      return true;
    });
    await bad.close();
    assert.deepEqual(bad.stats(), [], 'no stream was opened');

    const runtime = new EdgeRuntime(
      parseEdgeConfig({
        streams: [{ id: 'a', source: media('vtest_h264.mp4'), loop: true }],
        detector: { classes: ['person'] },
        thumbnails: { enabled: false },
      }),
    );
    try {
      await runtime.start();
      await assert.rejects(runtime.applyConfig({ detector: { classes: ['persn'] } }), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /Invalid config patch/);
        assert.match(err.message, /detector\.classes\.0: "persn" .*did you mean "person"\?/);
        return true;
      });
      assert.deepEqual(runtime.config.detector.classes, ['person']);
    } finally {
      await runtime.close();
    }
  });
});
