import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync } from 'node:child_process';
import {
  closeSync,
  constants,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseMot } from '@sightline/edge';
import type { FrameResult, StreamStats } from '@sightline/shared';
import { cliEnv, cliHarness, watch as watchOutput } from './cli-harness.ts';
import { media, modelsDir } from './helpers.ts';

const { dir, start, run } = cliHarness('sightline-e2e-cli-');

/** A running command's output and exit (cli-harness.ts's watch), and its latest --json stats line's first stream. */
function watch(child: ChildProcess) {
  const w = watchOutput(child);
  const latest = (): StreamStats | undefined => {
    const line = w.out.stdout
      .trimEnd()
      .split('\n')
      .findLast((l) => l.startsWith('{'));
    return line ? (JSON.parse(line) as { streams: StreamStats[] }).streams[0] : undefined;
  };
  return { ...w, latest };
}

/** Signal the command's whole process group (the wrapper and the command), as Ctrl-C in a terminal does. */
function ctrlC(child: ChildProcess): void {
  process.kill(-child.pid!, 'SIGINT');
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

  test('Ctrl-C (SIGINT to the process group, so the command gets it twice) drains cleanly: exit 0, every result flushed', async () => {
    const out = join(dir, 'ctrl-c.jsonl');
    const args = ['edge', 'run', '--source', media('vtest_h264.mp4'), '--loop', '--out', out, '--json'];
    const child = start(args, cliEnv(), true);
    const w = watch(child);
    await w.until('inferred frames', () => (w.latest()?.framesInferred ?? 0) > 0);
    ctrlC(child);
    assert.equal(await w.exited, 0, w.out.stderr);
    assert.match(w.out.stderr, /stopping; finishing the frames in flight \(Ctrl-C again to quit at once\)/);
    assert.doesNotMatch(w.out.stderr, /interrupted again/);
    const final = w.latest()!;
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, final.framesInferred, 'the JSONL file holds every result counted');
  });

  test('a second Ctrl-C while the shutdown is stuck (output pipe full) quits at once with exit code 130', async () => {
    // A FIFO opened for reading but never read: once its 64 KiB fill up, writes block and close() cannot finish.
    const fifo = join(dir, 'stuck.fifo');
    execFileSync('mkfifo', [fifo]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const args = ['edge', 'run', '--source', media('vtest_h264.mp4'), '--loop', '--unpaced', '--out', fifo];
      const child = start([...args, '--json'], cliEnv(), true);
      const w = watch(child);
      // The pipe's 64 KiB are full after a hundred-odd results of JSON lines.
      let last = -1;
      let since = Date.now();
      await w.until(
        'the pipeline held by the full pipe',
        () => {
          const n = w.latest()?.framesInferred ?? 0;
          if (n !== last) [last, since] = [n, Date.now()];
          // 200 results overflow the pipe (queued in memory then); or the writes block and the count stops.
          return n >= 200 || (n >= 50 && Date.now() - since > 3000);
        },
        90_000,
      );
      ctrlC(child);
      await w.until('the stopping notice', () => w.out.stderr.includes('Ctrl-C again'));
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(child.exitCode, null, 'the shutdown is stuck on the full pipe');
      const t0 = Date.now();
      ctrlC(child);
      assert.equal(await w.exited, 130, w.out.stderr);
      assert.ok(Date.now() - t0 < 5000, `exited ${Date.now() - t0} ms after the second Ctrl-C`);
      assert.match(w.out.stderr, /interrupted again; quitting now without finishing the shutdown/);
    } finally {
      closeSync(reader);
    }
  });

  test('a sink that fails on every frame logs the first failure and a summary, not a line per frame', async () => {
    const mot = join(dir, 'mot-blocked');
    mkdirSync(join(mot, 'cam1.txt'), { recursive: true }); // the stream's MOT file cannot be opened: a directory
    const args = ['edge', 'run', '--source', media('vtest_h264.mp4'), '--unpaced', '--frames', '30'];
    const r = await run([...args, '--mot', mot, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const failures = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; err: string; failures: number; suppressed?: number })
      .filter((l) => l.msg.startsWith('sink write failed'));
    // The first failure, one summary per 10 s of the run, and what was left at shutdown.
    assert.ok(failures.length >= 2 && failures.length <= 4, JSON.stringify(failures, null, 1));
    assert.equal(failures[0]!.failures, 1);
    assert.match(failures[0]!.err, /^SINK_FAILED: Cannot open output file .*cam1\.txt/);
    assert.equal(failures.at(-1)!.failures, 30, 'the total counts every frame');
    const last = JSON.parse(r.stdout.trimEnd().split('\n').at(-1)!) as { streams: StreamStats[] };
    assert.equal(last.streams[0]!.framesInferred, 30, 'the pipeline went on');
  });

  test('a source that cannot be opened: the stream fails, the command exits 3 naming it', async () => {
    const missing = join(dir, 'missing.mp4');
    const r = await run(['edge', 'run', '--source', missing, '--json']);
    assert.equal(r.code, 3, r.stderr);
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

  test('bad flag values exit 2 naming the flag and the value, before any work starts', async () => {
    const video = media('vtest_h264.mp4');
    const cases: [string[], RegExp][] = [
      [
        ['edge', 'run', '--source', video, '--frames', 'abc'],
        /--frames expects a positive integer, got "abc"/,
      ],
      [['edge', 'run', '--source', video, '--frames', '-1'], /Option '--frames' argument is ambiguous/],
      [['hub', '--port', '99999'], /--port expects a port number 0\.\.65535, got "99999"/],
      [['demo', '--duration', '0'], /--duration expects a number of seconds > 0 .*, got "0"/],
      [['models', 'prepare', '--providers', 'cpu,gpu'], /--providers expects .*, got "cpu,gpu"/],
    ];
    const runs = await Promise.all(cases.map(([args]) => run(args)));
    runs.forEach((r, i) => {
      const [args, message] = cases[i]!;
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.match(r.stderr, new RegExp(`Run "sightline help ${args[0]}" for the options`));
    });
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

describe('sightline hub', () => {
  test('token create prints the token last; the hub starts on the data dir and takes it; a second writer is refused', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sightline-hub-cli-'));
    try {
      const created = await run(['hub', 'token', 'create', '--role', 'admin', '--data-dir', dataDir]);
      assert.equal(created.code, 0, created.stderr);
      const token = created.stdout.trimEnd().split('\n').at(-1)!;
      assert.match(token, /^slt_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
      const bad = await run(['hub', 'token', 'create', '--role', 'root', '--data-dir', dataDir]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--role expects one of viewer, operator, admin, enroll, got "root"/);

      const child = start(['hub', '--port', '0', '--data-dir', dataDir], cliEnv(), true);
      const w = watch(child);
      await w.until('listening line', () => /listening on http:\/\/\S+/.test(w.out.stdout));
      const url = /listening on (http:\/\/\S+)/.exec(w.out.stdout)![1]!;
      const res = await fetch(`${url}/api/v1/tokens`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200);
      const listed = (await res.json()) as { tokens: { role: string }[] };
      assert.deepEqual(
        listed.tokens.map((t) => t.role),
        ['admin'],
      );
      // PGlite allows one process per data dir: token create while the hub runs says what to do instead.
      const busy = await run(['hub', 'token', 'create', '--role', 'viewer', '--data-dir', dataDir]);
      assert.equal(busy.code, 1);
      assert.match(busy.stderr, /is running on .*POST \/api\/v1\/tokens/);
      process.kill(-child.pid!, 'SIGTERM');
      assert.equal(await w.exited, 0, w.out.stderr);
      const list = await run(['hub', 'token', 'list', '--data-dir', dataDir]);
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /^[0-9a-f]{16} {2}admin\s+active/m);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('sightline demo', () => {
  test('--port 0 --duration 20 prints the real URL with a viewer token, the hub lists the enrolled demo-edge with both sample streams counting up, exits 0', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sightline-demo-'));
    const child = start(['demo', '--port', '0', '--duration', '20', '--data-dir', dataDir]);
    let stdout = '';
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
    });
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    let token = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL after 60 s:\n${stdout}\n${stderr}`)), 60_000);
      child.stdout!.setEncoding('utf8').on('data', (s: string) => {
        stdout += s;
        const m = /Open (http:\/\/\S+?)\/viewer#token=(\S+) in a browser/.exec(stdout);
        if (m) {
          clearTimeout(timer);
          token = m[2]!;
          resolve(m[1]!);
        }
      });
      child.once('close', (code) =>
        reject(new Error(`demo exited ${code} before printing a URL:\n${stderr}`)),
      );
    });
    const port = Number(new URL(url).port);
    assert.ok(port > 0, `the printed URL ${url} has the real port`);

    async function inferred(streamId: string): Promise<number | undefined> {
      const res = await fetch(`${url}/api/v1/edges`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200);
      const body = (await res.json()) as {
        edges: { edgeId: string; status: string; streams: (StreamStats & { tracksStored: number })[] }[];
      };
      const edge = body.edges.find((e) => e.edgeId === 'demo-edge');
      const stream = edge?.streams.find((s) => s.streamId === streamId);
      return stream && edge?.status === 'online' ? stream.framesInferred : undefined;
    }
    async function poll(streamId: string, check: (n: number) => boolean, ms: number): Promise<number> {
      const deadline = Date.now() + ms;
      for (;;) {
        const n = await inferred(streamId);
        if (n !== undefined && check(n)) return n;
        if (Date.now() > deadline)
          throw new Error(`hub status did not show ${streamId} progressing (last ${n})`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    // The edge's heartbeat carries its counters; each sample stream's count grows between two of them.
    for (const streamId of ['vtest', 'one-by-one-person-detection']) {
      const first = await poll(streamId, (n) => n > 0, 12_000);
      const second = await poll(streamId, (n) => n > first, 8000);
      assert.ok(second > first);
    }
    assert.equal((await fetch(`${url}/api/v1/edges`)).status, 401, 'the API needs the token');
    const code = await exited;
    assert.equal(code, 0, stderr);
    assert.match(stdout, /demo stopped/);
    rmSync(dataDir, { recursive: true, force: true });
  });
});
