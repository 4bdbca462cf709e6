import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  childLogger,
  configureLogging,
  formatLogLine,
  formatLogRecord,
  logFormat,
  type StreamStats,
} from '@sightline/shared';
import { applyLogFlags, takeLogFlags } from './logging.ts';
import { ProgressPrinter } from './progress.ts';
import { UsageError } from './usage-error.ts';

const ESC = '\x1b';

/** The local wall-clock time pretty lines show for an epoch-ms time. */
function clock(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

describe('pretty log lines', () => {
  const time = Date.UTC(2024, 4, 6, 7, 8, 9, 42);

  test('level name, local time, component, message, then the other fields as key=value', () => {
    const line = formatLogRecord({
      level: 40,
      time,
      pid: 1234,
      hostname: 'box',
      component: 'inference',
      model: 'yolox_nano',
      msg: 'provider missing, falling back',
      provider: 'cuda',
      sessions: 2,
      reason: 'libcudart.so.12: cannot open',
      detail: { tried: ['cuda', 'cpu'] },
    });
    assert.equal(
      line,
      `${clock(time)} WARN  inference: provider missing, falling back  model=yolox_nano provider=cuda sessions=2 ` +
        `reason="libcudart.so.12: cannot open" detail={"tried":["cuda","cpu"]}\n`,
    );
  });

  test('every level has its name; an error record shows its message and its stack below', () => {
    const names = [10, 20, 30, 40, 50, 60].map(
      (level) => formatLogRecord({ level, time, msg: 'm' }).split(' ')[1],
    );
    assert.deepEqual(names, ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL']);
    const line = formatLogRecord({
      level: 50,
      time,
      component: 'hub',
      msg: 'boom',
      err: { type: 'Error', message: 'disk full', stack: 'Error: disk full\n    at write (store.ts:1:1)' },
    });
    assert.equal(
      line,
      `${clock(time)} ERROR hub: boom  err="disk full"\n    Error: disk full\n    at write (store.ts:1:1)\n`,
    );
    const colored = formatLogRecord({ level: 30, time, msg: 'x' }, { colors: true });
    assert.ok(colored.includes(`${ESC}[32mINFO ${ESC}[39m`), JSON.stringify(colored));
  });

  test('formatLogLine turns a pino JSON line into the pretty line and leaves anything else alone', () => {
    const json = `${JSON.stringify({ level: 30, time, pid: 1, component: 'edge', msg: 'stream state', stream: 'cam1' })}\n`;
    assert.equal(formatLogLine(json), `${clock(time)} INFO  edge: stream state  stream=cam1\n`);
    assert.equal(formatLogLine('not json\n'), 'not json\n');
  });
});

describe('--log-level and --log-format', () => {
  test('are taken out of any command line (both spellings), up to --', () => {
    assert.deepEqual(
      takeLogFlags(['edge', 'run', '--log-level', 'debug', '--source', 'a.mp4', '--log-format=json']),
      {
        argv: ['edge', 'run', '--source', 'a.mp4'],
        level: 'debug',
        format: 'json',
      },
    );
    assert.deepEqual(takeLogFlags(['hub', '--', '--log-level', 'debug']), {
      argv: ['hub', '--', '--log-level', 'debug'],
    });
  });

  test('a bad or missing value is a usage error naming the flag and the value', () => {
    const cases: [string[], string][] = [
      [
        ['--log-level', 'loud'],
        '--log-level expects one of trace, debug, info, warn, error, fatal, silent, got "loud"',
      ],
      [
        ['--log-level=INFO'],
        '--log-level expects one of trace, debug, info, warn, error, fatal, silent, got "INFO"',
      ],
      [['--log-format', 'xml'], '--log-format expects one of json, pretty, got "xml"'],
      [['--log-level'], '--log-level needs a value'],
      [['--log-level', '--json'], '--log-level needs a value'],
    ];
    for (const [argv, message] of cases) {
      assert.throws(
        () => takeLogFlags(['edge', 'run', ...argv], 'edge run'),
        (err: unknown) => err instanceof UsageError && err.message === message && err.command === 'edge run',
        argv.join(' '),
      );
    }
  });

  test('the flags win over SIGHTLINE_LOG_LEVEL / SIGHTLINE_LOG_FORMAT and reach the logger', () => {
    const saved = { level: process.env.SIGHTLINE_LOG_LEVEL, format: process.env.SIGHTLINE_LOG_FORMAT };
    try {
      process.env.SIGHTLINE_LOG_LEVEL = 'warn';
      process.env.SIGHTLINE_LOG_FORMAT = 'json';
      applyLogFlags({ level: 'debug', format: 'pretty' });
      assert.equal(process.env.SIGHTLINE_LOG_LEVEL, 'debug', 'worker threads started later see it too');
      assert.equal(logFormat(), 'pretty');
      const log = childLogger('test');
      assert.equal(log.level, 'debug');
      assert.ok(log.isLevelEnabled('debug'));
      process.env.SIGHTLINE_LOG_FORMAT = 'json';
      applyLogFlags({});
      assert.equal(logFormat(), 'json', 'without flags the environment decides');
    } finally {
      process.env.SIGHTLINE_LOG_LEVEL = saved.level;
      process.env.SIGHTLINE_LOG_FORMAT = saved.format;
      if (saved.level === undefined) delete process.env.SIGHTLINE_LOG_LEVEL;
      if (saved.format === undefined) delete process.env.SIGHTLINE_LOG_FORMAT;
    }
  });
});

describe('log lines and the terminal progress display', () => {
  test('a log line clears the progress lines, prints, and the progress lines are drawn again below it', () => {
    let written = '';
    const terminal = {
      isTTY: true,
      write: (s: string) => {
        written += s;
        return true;
      },
    } as unknown as NodeJS.WriteStream;
    const stats = [
      { streamId: 'cam1', state: 'running' },
      { streamId: 'cam2', state: 'running' },
    ].map(
      (s) =>
        ({
          ...s,
          fps: 10,
          framesInferred: 5,
          latencyP50Ms: 1,
          latencyP95Ms: 2,
          activeTracks: 0,
          droppedOverflow: 0,
          droppedStale: 0,
          inferErrors: 0,
          reconnects: 0,
        }) as unknown as StreamStats,
    );
    configureLogging({ level: 'info', format: 'pretty', colors: false });
    const progress = new ProgressPrinter({ stream: terminal, intervalMs: 60_000 });
    progress.start(() => stats);
    try {
      progress.print(stats);
      const drawn = written;
      assert.equal(drawn.split('\n').length, 3, 'two progress lines');
      written = '';
      childLogger('edge').info({ stream: 'cam1' }, 'stream state');
      // Up two lines, clear to the end of the screen, the log line, then the progress lines again.
      assert.ok(written.startsWith(`${ESC}[2F${ESC}[J`), JSON.stringify(written));
      assert.match(
        written.slice(`${ESC}[2F${ESC}[J`.length),
        /^\d\d:\d\d:\d\d\.\d{3} INFO {2}edge: stream state {2}stream=cam1\n/,
      );
      assert.ok(written.endsWith(drawn), 'the progress lines are drawn again below the log line');
      written = '';
      progress.print(stats);
      assert.ok(
        written.startsWith(`${ESC}[2F${ESC}[J`),
        'the next update redraws over the progress lines only',
      );
    } finally {
      progress.release();
      configureLogging({});
    }
  });
});
