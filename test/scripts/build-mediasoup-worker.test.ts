/**
 * scripts/build-mediasoup-worker.mjs keeps the first `npm start` readable: the source build shows one progress line
 * (step, ninja's [n/m], elapsed) instead of hundreds of compiler lines, keeps the full output in a log file, and
 * names that file only when the build fails.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
// @ts-expect-error plain ESM script without types
import { BuildProgress, formatElapsed, ninjaProgress } from '../../scripts/build-mediasoup-worker.mjs';

const SCRIPT = resolve(import.meta.dirname, '..', '..', 'scripts', 'build-mediasoup-worker.mjs');

function sink(isTTY: boolean): { out: { write(s: string): boolean; isTTY: boolean }; text: () => string } {
  let text = '';
  return {
    out: {
      isTTY,
      write(s: string) {
        text += s;
        return true;
      },
    },
    text: () => text,
  };
}

describe('mediasoup worker build progress', () => {
  test("ninja's last [n/m] is the progress; elapsed reads as 42s / 3m05s", () => {
    assert.deepEqual(ninjaProgress('[1/226] Compiling a.o\n[17/226] Compiling b.o\n'), {
      done: 17,
      total: 226,
    });
    assert.equal(ninjaProgress('Build targets in project: 1\n'), undefined);
    assert.equal(formatElapsed(42_400), '42s');
    assert.equal(formatElapsed(185_000), '3m05s');
  });

  test('on a terminal one line is redrawn in place and ended once', () => {
    const s = sink(true);
    const p = new BuildProgress(s.out);
    p.update('step 3/3 compile', { done: 10, total: 200 });
    p.update('step 3/3 compile', { done: 20, total: 200 });
    p.done();
    const text = s.text();
    assert.equal(text.split('\n').length, 2, 'one line, ended by one newline');
    assert.ok(
      text.endsWith('\r\u001b[2Kbuild-mediasoup-worker: step 3/3 compile [20/200] 10%, 0s\n'),
      JSON.stringify(text),
    );
  });

  test('piped, it prints a line per step and nothing for each compiler line', () => {
    const s = sink(false);
    const p = new BuildProgress(s.out);
    p.update('step 1/3 configure', undefined, true);
    for (let i = 1; i <= 300; i++) p.update('step 3/3 compile', { done: i, total: 300 });
    p.done();
    assert.deepEqual(s.text().trim().split('\n'), ['build-mediasoup-worker: step 1/3 configure, 0s']);
  });

  test('a failing build prints a few lines and the path of the full log, which holds all the output', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ms-build-test-'));
    try {
      // A meson that answers --version like Debian 12's, then floods its output and fails.
      const bin = join(dir, 'bin');
      spawnSync('mkdir', ['-p', bin]);
      writeFileSync(
        join(bin, 'meson'),
        '#!/bin/sh\nif [ "$1" = "--version" ]; then echo 1.0.1; exit 0; fi\n' +
          'i=1; while [ $i -le 300 ]; do echo "[$i/300] compiler line $i"; i=$((i+1)); done\n' +
          'echo "error: the compiler broke" >&2; exit 3\n',
      );
      chmodSync(join(bin, 'meson'), 0o755);
      const r = spawnSync(process.execPath, [SCRIPT, '--from-source'], {
        encoding: 'utf8',
        env: {
          ...process.env,
          PATH: `${bin}:${process.env.PATH}`,
          MEDIASOUP_WORKER_CACHE: join(dir, 'cache'),
        },
      });
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stdout, '', 'stdout carries only a resulting path');
      const lines = r.stderr.trim().split('\n');
      assert.ok(lines.length <= 12, `few lines on stderr, got ${lines.length}:\n${r.stderr}`);
      assert.doesNotMatch(r.stderr, /compiler line/);
      const logFile = /full build log: (\S+)/.exec(r.stderr)?.[1];
      assert.ok(logFile, `the log path is printed:\n${r.stderr}`);
      const log = readFileSync(logFile, 'utf8');
      assert.match(log, /\[300\/300\] compiler line 300/);
      assert.match(log, /error: the compiler broke/);
      assert.match(r.stderr, /meson setup .* failed \(exit 3\)/);
      rmSync(resolve(logFile, '..'), { recursive: true, force: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
