import assert from 'node:assert/strict';
import { test } from 'node:test';
import { edgeConfigFromArgs } from './commands/edge.ts';
import { runEnhance } from './commands/enhance.ts';
import { publicUrlFlag, redisFlag, retentionFlag } from './commands/hub.ts';
import { runWorker } from './commands/worker.ts';
import { durationFlag, portFlag, providersFlag } from './flags.ts';
import { UsageError } from './usage-error.ts';

const usage = (message: string) => (err: unknown) =>
  err instanceof UsageError && err.command === 'edge' && err.message === message;

test('edge run: every bad flag value is a UsageError naming the flag and the value', async () => {
  const cases: [string[], string][] = [
    [['--frames', 'abc'], '--frames expects a positive integer, got "abc"'],
    [['--frames=-1'], '--frames expects a positive integer, got "-1"'],
    [['--frames', '2.5'], '--frames expects a positive integer, got "2.5"'],
    [['--sessions', '0'], '--sessions expects an integer 1..64, got "0"'],
    [['--sessions', '100'], '--sessions expects an integer 1..64, got "100"'],
    [['--threads', ''], '--threads expects an integer 1..64, got ""'],
    [['--confidence', '1.5'], '--confidence expects a number 0..1, got "1.5"'],
    [['--duration', 'soon'], '--duration expects a number of seconds > 0 (at most 2147483), got "soon"'],
    [['--duration', '1e9'], '--duration expects a number of seconds > 0 (at most 2147483), got "1e9"'],
    [
      ['--providers', 'cuda,tpu'],
      '--providers expects a comma-separated list of tensorrt, cuda, cpu, got "cuda,tpu"',
    ],
    [
      ['--hub', 'hub.local:8080'],
      '--hub expects an http(s) URL such as http://127.0.0.1:8080, got "hub.local:8080"',
    ],
  ];
  for (const [flags, message] of cases) {
    await assert.rejects(
      edgeConfigFromArgs(['--source', 'a.mp4', ...flags]),
      usage(message),
      flags.join(' '),
    );
  }
  // A bad flag is reported even with a config file that does not exist: flags are checked first.
  await assert.rejects(
    edgeConfigFromArgs(['--config', '/nonexistent.yaml', '--frames', 'x']),
    usage('--frames expects a positive integer, got "x"'),
  );
});

test('edge run: good flag values land in the config', async () => {
  const { config, duration } = await edgeConfigFromArgs([
    ...['--source', 'a.mp4', '--frames', '40', '--sessions', '3', '--threads', '2', '--confidence', '0'],
    ...['--providers', 'cuda, cpu', '--hub', 'http://127.0.0.1:8080', '--duration', '1.5'],
  ]);
  assert.equal(config.streams[0]!.maxFrames, 40);
  assert.deepEqual(config.inference.providers, ['cuda', 'cpu']);
  assert.equal(config.inference.sessions, 3);
  assert.equal(config.inference.intraOpThreads, 2);
  assert.equal(config.detector.confidence, 0);
  assert.equal(config.hub?.url, 'http://127.0.0.1:8080');
  assert.equal(duration, 1.5);
});

test('port, duration and providers flags of the other commands', () => {
  assert.equal(portFlag('hub', '0'), 0);
  assert.equal(portFlag('hub', undefined), undefined);
  for (const bad of ['65536', '-1', '80.5', 'http']) {
    assert.throws(
      () => portFlag('hub', bad),
      (err: unknown) =>
        err instanceof UsageError &&
        err.command === 'hub' &&
        err.message === `--port expects a port number 0..65535, got "${bad}"`,
    );
  }
  assert.throws(() => durationFlag('demo', '0'), /--duration expects a number of seconds > 0/);
  assert.throws(() => providersFlag('models', 'tensorrt,'), /--providers expects .*, got "tensorrt,"/);
});

test('hub --retention-days: a number of days 0..36500, else a usage error naming the value', () => {
  assert.equal(retentionFlag(undefined), undefined);
  assert.equal(retentionFlag('0'), 0);
  assert.equal(retentionFlag('7'), 7);
  assert.equal(retentionFlag('0.5'), 0.5);
  for (const bad of ['-1', 'abc', '', '36501', 'Infinity']) {
    assert.throws(
      () => retentionFlag(bad),
      (err: unknown) =>
        err instanceof UsageError &&
        err.command === 'hub' &&
        err.message ===
          `--retention-days expects a number of days 0..36500 (0 keeps track points forever), got "${bad}"`,
      bad,
    );
  }
});

test('edge run --whip-port: WHIP ingest on that port, token from $SIGHTLINE_WHIP_TOKEN', async () => {
  const saved = process.env.SIGHTLINE_WHIP_TOKEN;
  try {
    delete process.env.SIGHTLINE_WHIP_TOKEN;
    await assert.rejects(
      edgeConfigFromArgs(['--source', 'a.mp4', '--whip-port', '8089']),
      /whip\.token: a token is required/,
    );
    process.env.SIGHTLINE_WHIP_TOKEN = 'a-long-enough-whip-token';
    const { config } = await edgeConfigFromArgs(['--source', 'a.mp4', '--whip-port', '0']);
    assert.equal(config.whip?.port, 0);
    assert.equal(config.whip?.token, 'a-long-enough-whip-token');
    assert.equal(config.whip?.host, '127.0.0.1');
  } finally {
    if (saved === undefined) delete process.env.SIGHTLINE_WHIP_TOKEN;
    else process.env.SIGHTLINE_WHIP_TOKEN = saved;
  }
});

test('hub --redis and --public-url: URLs of their scheme pass, anything else is a UsageError naming the flag', () => {
  assert.equal(redisFlag('redis://10.0.0.5:6379'), 'redis://10.0.0.5:6379');
  assert.equal(redisFlag(undefined), undefined);
  assert.equal(publicUrlFlag('https://hub-b.example:8443/'), 'https://hub-b.example:8443');
  assert.equal(publicUrlFlag(undefined), undefined);
  for (const bad of ['', 'localhost:6379', 'http://10.0.0.5:6379', 'redis://']) {
    assert.throws(
      () => redisFlag(bad),
      (err: unknown) => err instanceof UsageError && /^--redis expects/.test(err.message),
    );
  }
  for (const bad of ['', 'hub-b:8443', 'ftp://hub-b', 'redis://hub-b:6379', 'https://']) {
    assert.throws(
      () => publicUrlFlag(bad),
      (err: unknown) => err instanceof UsageError && /^--public-url expects/.test(err.message),
    );
  }
});

test('worker: bad --batch, --sessions or --claim-idle-ms values are usage errors before anything starts', async () => {
  const cases: [string[], string][] = [
    [['--batch', '0'], '--batch expects an integer 1..64, got "0"'],
    [['--batch', '65'], '--batch expects an integer 1..64, got "65"'],
    [['--batch', 'big'], '--batch expects an integer 1..64, got "big"'],
    [['--sessions', '1.5'], '--sessions expects an integer 1..64, got "1.5"'],
    [['--claim-idle-ms', '10'], '--claim-idle-ms expects an integer 100..600000 (ms), got "10"'],
  ];
  for (const [flags, message] of cases) {
    await assert.rejects(
      runWorker(['--model', 'yolox_nano', ...flags]),
      (err: unknown) => err instanceof UsageError && err.command === 'worker' && err.message === message,
      flags.join(' '),
    );
  }
});

test('enhance: a missing step, a non-MP4 output, the input as output or bad numbers are usage errors', async () => {
  const cases: [string[], string][] = [
    [['in.mp4', 'out.mp4'], 'choose at least one of --denoise, --white-balance, --contrast, --sr'],
    [['in.mp4'], 'enhance needs an input video and an output .mp4'],
    [['in.mp4', 'out.mkv', '--denoise'], 'the output must be an .mp4 file, got "out.mkv"'],
    [['in.mp4', 'in.mp4', '--denoise'], 'the output must not be the input'],
    [['in.mp4', '/nonexistent/out.mp4', '--denoise'], 'the output folder /nonexistent does not exist'],
    [['in.mp4', 'out.mp4', '--denoise', '--crf', '60'], '--crf expects an integer 0..51, got "60"'],
    [
      ['in.mp4', 'out.mp4', '--denoise', '--denoise-h', 'x'],
      '--denoise-h expects a number 0.5..100, got "x"',
    ],
    [['in.mp4', 'out.mp4', '--sr', '--frames', '0'], '--frames expects a positive integer, got "0"'],
  ];
  for (const [argv, message] of cases) {
    await assert.rejects(
      runEnhance(argv),
      (err: unknown) => err instanceof UsageError && err.command === 'enhance' && err.message === message,
      argv.join(' '),
    );
  }
});
