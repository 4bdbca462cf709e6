/**
 * Running the real `sightline` command in tests: a scratch folder, the environment (models from MODELS_DIR, the
 * TypeScript sources, warn-level JSON logs, PGlite data dirs), start / run / watch, and cleanup of whatever is still
 * running when the file's tests end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after } from 'node:test';
import { type CliRun, collectRun, modelsDir } from './helpers.ts';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'sightline.js');

/** The environment a command runs with: `extra` on top; no DATABASE_URL (data dirs are PGlite), JSON logs. */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MODELS_DIR: modelsDir(),
    // Run the TypeScript sources, not a possibly stale build.
    SIGHTLINE_FROM_SOURCE: '1',
    SIGHTLINE_LOG_LEVEL: 'warn',
    ...extra,
  };
  for (const name of ['SIGHTLINE_LOG_FORMAT', 'DATABASE_URL', 'SIGHTLINE_RETENTION_DAYS']) {
    if (!(name in extra)) delete env[name];
  }
  return env;
}

/** A test file's commands: a scratch `dir` (removed after the file), and every command started is stopped then. */
export function cliHarness(prefix: string) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const children = new Set<ChildProcess>();
  after(() => {
    // SIGTERM: bin/sightline.js forwards it to the node process running the command (SIGKILL would orphan that).
    for (const child of children) child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  /** Start the command; `detached` makes it a process group of its own, to signal as a terminal's Ctrl-C does. */
  function start(args: string[], env: NodeJS.ProcessEnv = cliEnv(), detached = false): ChildProcess {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached,
    });
    children.add(child);
    child.once('exit', () => children.delete(child));
    return child;
  }

  /** Run the command to its end (killed after `timeoutMs`). */
  function run(args: string[], env?: NodeJS.ProcessEnv, timeoutMs = 90_000): Promise<CliRun> {
    return collectRun(start(args, env), args, timeoutMs);
  }

  return { dir, start, run };
}

/** A running command's output so far, its exit, and a wait for a condition on what it printed. */
export function watch(child: ChildProcess) {
  const out = { stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    out.stdout += s;
  });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    out.stderr += s;
  });
  const exited = new Promise<number | null>((done) => child.once('close', done));
  async function until(what: string, check: () => boolean, ms = 60_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (Date.now() > deadline || child.exitCode !== null) {
        throw new Error(`no ${what} (exit ${child.exitCode}):\n${out.stdout.slice(-2000)}\n${out.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { out, exited, until };
}
