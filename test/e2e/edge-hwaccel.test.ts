/**
 * decoder.hwaccel in a config file reaches each stream's decoder: `sightline edge run` asked for CUDA on a box
 * without one still tracks the stream (software fallback), says so in one log line, and names the decoder in its
 * stream stats (which the hub shows).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { media, modelsDir } from './helpers.ts';

const BIN = resolve(import.meta.dirname, '..', '..', 'bin', 'sightline.js');

test('decoder.hwaccel cuda from a config file: the stream is tracked and the decoder in use is reported', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sightline-hwaccel-'));
  try {
    const config = join(dir, 'edge.yaml');
    writeFileSync(
      config,
      [
        'edgeId: hw',
        'streams:',
        `  - { id: vtest, source: ${JSON.stringify(media('vtest_h264.mp4'))} }`,
        'decoder: { hwaccel: cuda }',
        'inference: { sessions: 1 }',
        '',
      ].join('\n'),
    );
    const r = spawnSync(
      process.execPath,
      [BIN, 'edge', 'run', '--config', config, '--unpaced', '--frames', '10', '--json'],
      {
        encoding: 'utf8',
        timeout: 120_000,
        env: {
          ...process.env,
          MODELS_DIR: modelsDir(),
          SIGHTLINE_FROM_SOURCE: '1',
          SIGHTLINE_LOG_LEVEL: 'info',
        },
      },
    );
    assert.equal(r.status, 0, r.stderr);
    const fallback = r.stderr.split('\n').filter((l) => /hwaccel cuda/.test(l));
    const ran = /"decoder":"h264 \(cuda\)"/.test(r.stdout + r.stderr);
    // One line saying why it decodes in software (no NVIDIA GPU here), or a stream really on the GPU.
    if (!ran) {
      assert.equal(fallback.length, 1, r.stderr);
      assert.match(fallback[0]!, /not used .*decoding h264 in software/);
    }
    assert.match(r.stdout, /"decoder":"h264 \((software|cuda)\)"/, r.stdout.slice(-2000));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
