/**
 * A clean `npm ci` with no network at all passes: the tracked files are copied into a fresh folder and installed in
 * a network namespace without any interface but loopback (`unshare -n`), from npm's cache (`--offline`), as on an
 * air-gapped box with a mirrored cache. No install script may reach for the internet (onnxruntime-node's CUDA
 * download and mediasoup's worker download are denied in allowScripts), npm must not warn about unknown project
 * config (npm 11 does for custom .npmrc keys), and the result must run ONNX Runtime on the CPU.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '..', '..');

function whyNot(): string | false {
  if (spawnSync('unshare', ['-n', 'true']).status !== 0)
    return 'unshare -n is not permitted here (needs root)';
  if (spawnSync('git', ['-C', ROOT, 'rev-parse']).status !== 0) return 'not a git checkout';
  return false;
}

function run(
  cmd: string,
  args: string[],
  cwd: string,
  ms: number,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, CI: 'true' } });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, out });
    });
  });
}

test('npm ci with no network passes, warns about no project config, and runs ONNX Runtime on the CPU', {
  skip: whyNot(),
  timeout: 600_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sightline-offline-ci-'));
  try {
    const files = execFileSync(
      'git',
      ['-C', ROOT, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
      {
        encoding: 'utf8',
      },
    )
      .split('\0')
      .filter((f) => f && existsSync(join(ROOT, f)));
    for (const f of files) {
      mkdirSync(dirname(join(dir, f)), { recursive: true });
      cpSync(join(ROOT, f), join(dir, f));
    }
    assert.ok(!existsSync(join(dir, 'node_modules')));
    const ci = await run('unshare', ['-n', 'npm', 'ci', '--offline'], dir, 540_000);
    assert.equal(ci.code, 0, `npm ci failed offline:\n${ci.out.slice(-4000)}`);
    assert.doesNotMatch(ci.out, /Unknown (project|user|env) config/i, ci.out);
    assert.doesNotMatch(ci.out, /install scripts? (were|was) skipped|unreviewed install scripts/i, ci.out);

    // The CPU provider ships in the package; no CUDA provider was fetched.
    const ort = join(dir, 'node_modules', 'onnxruntime-node');
    const binaries = readdirSync(join(ort, 'bin', 'napi-v6', process.platform, process.arch));
    assert.ok(binaries.includes('onnxruntime_binding.node'), binaries.join(', '));
    assert.ok(!binaries.some((f) => /providers_cuda/.test(f)), `no CUDA provider: ${binaries.join(', ')}`);
    const probe = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const ort = await import('onnxruntime-node'); console.log(ort.listSupportedBackends().map((b) => b.name).join(','));",
      ],
      { cwd: join(dir, 'edge'), encoding: 'utf8' },
    );
    assert.equal(probe.status, 0, probe.stderr);
    assert.match(probe.stdout, /\bcpu\b/);
    // The workspaces were compiled by the root's prepare (tsc -b): the CLI answers.
    const help = spawnSync(process.execPath, [join(dir, 'bin', 'sightline.js'), '--version'], {
      encoding: 'utf8',
    });
    assert.equal(help.status, 0, help.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
