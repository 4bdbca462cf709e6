import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseMot } from '@sightline/edge';
import type { FrameResult, StreamStats } from '@sightline/shared';
import { media, modelsDir } from './helpers.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'sightline.js');

let dir: string;
const children = new Set<ChildProcess>();

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sightline-e2e-cli-'));
});
after(() => {
  // SIGTERM: bin/sightline.js forwards it to the node process running the command (SIGKILL would orphan that).
  for (const child of children) child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    MODELS_DIR: modelsDir(),
    SIGHTLINE_MEDIA_DIR: process.env.SIGHTLINE_MEDIA_DIR,
    // Run the TypeScript sources, not a possibly stale build.
    SIGHTLINE_FROM_SOURCE: '1',
    SIGHTLINE_LOG_LEVEL: 'warn',
    ...extra,
  };
}

function start(args: string[], env: NodeJS.ProcessEnv = cliEnv()): ChildProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the command to its end (killed after `timeoutMs`). */
function run(args: string[], env?: NodeJS.ProcessEnv, timeoutMs = 90_000): Promise<Run> {
  const child = start(args, env);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
  });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`sightline ${args.join(' ')} did not exit in ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('sightline edge run', () => {
  test('--source --unpaced --frames --out --mot --json: exits 0, JSON stats on stdout, JSONL and MOT files', async () => {
    const out = join(dir, 'run.jsonl');
    const mot = join(dir, 'mot');
    const r = await run([
      'edge',
      'run',
      '--source',
      media('vtest_h264.mp4'),
      '--unpaced',
      '--frames',
      '40',
      '--out',
      out,
      '--mot',
      mot,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.ok(lines.length >= 1);
    const stats = lines.map((l) => JSON.parse(l) as { type: string; at: string; streams: StreamStats[] });
    for (const s of stats) {
      assert.equal(s.type, 'stats');
      assert.ok(!Number.isNaN(Date.parse(s.at)));
      assert.equal(s.streams.length, 1);
    }
    const last = stats.at(-1)!.streams[0]!;
    assert.equal(last.streamId, 'cam1');
    assert.equal(last.state, 'ended');
    assert.equal(last.framesDecoded, 40);
    assert.equal(last.framesInferred, 40);
    assert.equal(last.droppedOverflow + last.droppedStale, 0);
    const results = readFileSync(out, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as FrameResult);
    assert.deepEqual(
      results.map((x) => x.seq),
      Array.from({ length: 40 }, (_, i) => i),
    );
    assert.ok(results.every((x) => x.streamId === 'cam1' && x.width === 768 && x.height === 576));
    assert.ok(results.filter((x) => x.detections.length > 0).length >= 38, 'persons in almost every frame');
    const records = parseMot(readFileSync(join(mot, 'cam1.txt'), 'utf8'));
    assert.equal(
      records.length,
      results.reduce((n, x) => n + x.tracks.length, 0),
    );
    assert.ok(records.length > 0);
  });

  test('SIGTERM stops a looping realtime run cleanly: exit 0, final stats, every result flushed', async () => {
    const out = join(dir, 'term.jsonl');
    const child = start([
      'edge',
      'run',
      '--source',
      media('vtest_h264.mp4'),
      '--loop',
      '--out',
      out,
      '--json',
    ]);
    let stdout = '';
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
    });
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    // Wait for a stats line showing inferred frames, then ask it to stop.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no progress after 60 s:\n${stdout}\n${stderr}`)),
        60_000,
      );
      child.stdout!.setEncoding('utf8').on('data', (s: string) => {
        stdout += s;
        const progressing = stdout
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .some((l) => ((JSON.parse(l) as { streams: StreamStats[] }).streams[0]?.framesInferred ?? 0) > 0);
        if (progressing) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    const last = JSON.parse(stdout.trimEnd().split('\n').at(-1)!) as { streams: StreamStats[] };
    const final = last.streams[0]!;
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, final.framesInferred, 'the JSONL file holds every result counted');
    assert.equal((JSON.parse(lines.at(-1)!) as FrameResult).seq, lines.length - 1);
  });

  test('a config file with bad fields exits 1 naming each bad field', async () => {
    const path = join(dir, 'bad.yaml');
    writeFileSync(
      path,
      [
        'streams:',
        '  - { source: a.mp4, stalenessMs: -5 }',
        'inference: { providers: [cpu, tpu], sessions: 0 }',
        'detector: { confidence: 1.5 }',
        'colour: blue',
        '',
      ].join('\n'),
    );
    const r = await run(['edge', 'run', '--config', path]);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.stderr.includes(`Invalid config file ${path}`), r.stderr);
    for (const field of [
      'streams.0.stalenessMs',
      'inference.providers.1',
      'inference.sessions',
      'detector.confidence',
      'colour: unknown field',
    ]) {
      assert.ok(r.stderr.includes(field), `stderr names ${field}:\n${r.stderr}`);
    }
    assert.equal(r.stdout, '');
  });

  test('a config file that is not YAML (or not JSON) exits 1 saying so', async () => {
    const yaml = join(dir, 'broken.yaml');
    writeFileSync(yaml, 'streams: [ { source: a.mp4\n  - ][ : :\n');
    const r = await run(['edge', 'run', '--config', yaml]);
    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes(`Config file ${yaml} is not valid YAML`), r.stderr);
    const json = join(dir, 'broken.json');
    writeFileSync(json, '{ "streams": [ }');
    const j = await run(['edge', 'run', '--config', json]);
    assert.equal(j.code, 1);
    assert.ok(j.stderr.includes(`Config file ${json} is not valid JSON`), j.stderr);
    const missing = join(dir, 'nope.yaml');
    const m = await run(['edge', 'run', '--config', missing]);
    assert.equal(m.code, 1);
    assert.ok(m.stderr.includes(`Cannot read config file ${missing}`), m.stderr);
  });

  test('no --source and no --config is a usage error: exit 2 with a pointer to the help', async () => {
    const r = await run(['edge', 'run', '--unpaced']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /needs at least one --source/);
    assert.match(r.stderr, /sightline help edge/);
    const u = await run(['edge', 'run', '--sauce', 'x.mp4']);
    assert.equal(u.code, 2);
    assert.match(u.stderr, /Unknown option '--sauce'/);
  });

  test('a source that cannot be opened: the stream fails, the command exits 1 naming it', async () => {
    const missing = join(dir, 'missing.mp4');
    const r = await run(['edge', 'run', '--source', missing, '--json']);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.stderr.includes(`stream cam1 failed: SOURCE_INVALID: No such file: ${missing}`), r.stderr);
  });
});

describe('sightline command routing and models', () => {
  test('an unknown command exits 2 with the usage', async () => {
    const r = await run(['frobnicate']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command "frobnicate"/);
    assert.match(r.stderr, /Usage: sightline <command>/);
  });

  test('models verify exits 1 and names the corrupted file; the shared copy verifies', async () => {
    const models = join(dir, 'models');
    mkdirSync(models);
    const bad = join(models, 'yolox_nano.onnx');
    copyFileSync(join(modelsDir(), 'yolox_nano.onnx'), bad);
    const bytes = readFileSync(bad);
    bytes[1000]! ^= 0x01;
    writeFileSync(bad, bytes);
    const r = await run(['models', 'verify'], cliEnv({ MODELS_DIR: models }));
    assert.equal(r.code, 1, r.stderr);
    const line = r.stdout.split('\n').find((l) => l.includes('yolox_nano') && !l.includes('MISSING'));
    assert.ok(line, r.stdout);
    assert.match(line, /^CORRUPT\s+yolox_nano\s/);
    assert.ok(line.includes(bad), line);
    assert.match(r.stdout, /file\(s\) failed verification/);
    const ok = await run(['models', 'verify', 'yolox_nano']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^ok\s+yolox_nano/m);
  });
});

describe('sightline demo', () => {
  test('--port 0 --duration 8 prints the real URL, the hub shows demo-edge/sample counting up, exits 0', async () => {
    const child = start(['demo', '--port', '0', '--duration', '8']);
    let stdout = '';
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
    });
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL after 60 s:\n${stdout}\n${stderr}`)), 60_000);
      child.stdout!.setEncoding('utf8').on('data', (s: string) => {
        stdout += s;
        const m = /Open (http:\/\/\S+?)\/? in a browser/.exec(stdout);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.once('close', (code) =>
        reject(new Error(`demo exited ${code} before printing a URL:\n${stderr}`)),
      );
    });
    const port = Number(new URL(url).port);
    assert.ok(port > 0, `the printed URL ${url} has the real port`);

    async function inferred(): Promise<number | undefined> {
      const res = await fetch(`${url}/api/v1/status`);
      assert.equal(res.status, 200);
      const body = (await res.json()) as {
        edges: { edgeId: string; status: string; streams: StreamStats[] }[];
      };
      const edge = body.edges.find((e) => e.edgeId === 'demo-edge');
      const stream = edge?.streams.find((s) => s.streamId === 'sample');
      return stream?.framesInferred;
    }
    async function poll(check: (n: number) => boolean, ms: number): Promise<number> {
      const deadline = Date.now() + ms;
      for (;;) {
        const n = await inferred();
        if (n !== undefined && check(n)) return n;
        if (Date.now() > deadline)
          throw new Error(`hub status did not show the stream progressing (last ${n})`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    // The edge reports once a second; the count grows between two reports.
    const first = await poll((n) => n > 0, 6000);
    const second = await poll((n) => n > first, 6000);
    assert.ok(second > first);
    const code = await exited;
    assert.equal(code, 0, stderr);
    assert.match(stdout, /demo stopped/);
  });
});
