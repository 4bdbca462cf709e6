/**
 * decoder.hwaccel on a machine without a usable GPU: asking for cuda or vaapi must still decode (in software, the
 * same frames), say so in the stream's stats and in exactly one log line, and a bad value must be refused by name.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { type DecodedFrame, type Hwaccel, type StreamInfo, StreamSource } from '@sightline/edge';
import { ConfigError, parseEdgeConfig } from '@sightline/shared';
import { pino } from 'pino';
import { collectFrames, media } from './helpers.ts';

type Backend = 'node-av' | 'ffmpeg';
interface LogLine {
  level: number;
  msg: string;
  hwaccel?: string;
  decoder?: string;
  fallback?: string;
  streamId?: string;
}

const which = (cmd: string) =>
  spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim();
const ffmpegBin = which('ffmpeg');
const ffprobeBin = which('ffprobe');
const noFfmpeg = ffmpegBin && ffprobeBin ? undefined : 'no ffmpeg/ffprobe on PATH (see .ci/apt-packages.txt)';

/** Whether FFmpeg could open a CUDA or VA-API device here: then the fallback cannot be seen, and those tests skip. */
const gpu = ['cuda', 'vaapi'].filter(
  (d) =>
    ffmpegBin &&
    spawnSync(ffmpegBin, ['-hide_banner', '-loglevel', 'quiet', '-init_hw_device', d, '-version']).status ===
      0,
);
const hasGpu = gpu.length
  ? `a ${gpu.join('/')} device opens on this machine; the fallback is not exercised`
  : undefined;

/** A logger that keeps its JSON lines. */
function memoryLogger() {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s) as LogLine) });
  return { logger, lines };
}

/** Decode the first `n` frames of vtest_h264.mp4 at 208x156; returns them with the stream's info, stats and log. */
async function decode(backend: Backend, hwaccel: Hwaccel | undefined, n: number, extra = {}) {
  const { logger, lines } = memoryLogger();
  const source = new StreamSource({
    streamId: `${backend}-${hwaccel ?? 'default'}`,
    url: media('vtest_h264.mp4'),
    backend,
    realtime: false,
    fit: { width: 208, height: 208 },
    logger,
    ...(hwaccel ? { hwaccel } : {}),
    ...extra,
  });
  const opened = new Promise<StreamInfo>((resolve) => source.once('open', resolve));
  try {
    source.start();
    const frames: DecodedFrame[] = await collectFrames(source, n, 30_000);
    return { frames, info: await opened, stats: source.stats(), lines };
  } finally {
    await source.close();
  }
}

const hwLines = (lines: LogLine[]) => lines.filter((l) => l.hwaccel !== undefined);

function sameFrames(a: DecodedFrame[], b: DecodedFrame[]): void {
  assert.equal(a.length, b.length);
  a.forEach((f, i) => {
    assert.equal(f.pts, b[i]!.pts, `pts of frame ${i}`);
    assert.equal(f.width, b[i]!.width);
    assert.equal(f.height, b[i]!.height);
    assert.ok(Buffer.from(f.data).equals(Buffer.from(b[i]!.data)), `pixels of frame ${i} differ`);
  });
}

for (const backend of ['node-av', 'ffmpeg'] as const) {
  describe(`hwaccel, ${backend} backend, no GPU`, {
    skip: backend === 'ffmpeg' ? noFfmpeg : undefined,
  }, () => {
    let software: DecodedFrame[] = [];

    test('none (the default) decodes in software and logs nothing about hardware', async () => {
      const r = await decode(backend, undefined, 5);
      software = r.frames;
      assert.equal(r.stats.decoder, 'h264 (software)');
      assert.equal(r.info.decoder, 'h264 (software)');
      assert.deepEqual(hwLines(r.lines), []);
    });

    for (const hwaccel of ['cuda', 'vaapi'] as const) {
      test(`${hwaccel} falls back to software: same frames, one warn line with the reason`, {
        skip: hasGpu,
      }, async () => {
        const r = await decode(backend, hwaccel, 5);
        sameFrames(r.frames, software);
        assert.equal(r.stats.decoder, 'h264 (software)');
        assert.equal(r.info.decoder, 'h264 (software)');
        const lines = hwLines(r.lines);
        assert.equal(lines.length, 1, JSON.stringify(r.lines));
        const [line] = lines;
        assert.equal(line!.level, 40); // warn: a device was named and is not used
        assert.equal(line!.hwaccel, hwaccel);
        assert.equal(line!.streamId, `${backend}-${hwaccel}`);
        assert.match(
          line!.msg,
          new RegExp(`^hwaccel ${hwaccel} not used \\(${hwaccel}: cannot open the ${hwaccel} device`),
        );
        assert.match(line!.msg, /; decoding h264 in software$/);
        assert.ok(line!.fallback && line!.fallback.length > 30, line!.fallback);
      });
    }

    test('auto falls back quietly: one info line, same frames', { skip: hasGpu }, async () => {
      const r = await decode(backend, 'auto', 5);
      sameFrames(r.frames, software);
      assert.equal(r.stats.decoder, 'h264 (software)');
      const lines = hwLines(r.lines);
      assert.equal(lines.length, 1, JSON.stringify(r.lines));
      assert.equal(lines[0]!.level, 30);
      assert.match(
        lines[0]!.msg,
        /^hwaccel auto not used \(cuda: .*; vaapi: .*\); decoding h264 in software$/,
      );
    });
  });
}

describe('hwaccel: one line per stream', () => {
  test('node-av: a looping file logs the fallback once, not once per loop', { skip: hasGpu }, async () => {
    // 795 frames per pass at 64x48; 800 frames means a second session of the decoder.
    const r = await decode('node-av', 'cuda', 800, { loop: true, fit: { width: 64, height: 64 } });
    assert.equal(r.frames.length, 800);
    assert.equal(hwLines(r.lines).length, 1, JSON.stringify(hwLines(r.lines)));
  });
});

describe('hwaccel, ffmpeg backend: a device that opens but cannot decode', {
  skip: noFfmpeg ?? hasGpu,
}, () => {
  // A wrapper whose device check (-init_hw_device) succeeds, so ffmpeg is started with -hwaccel cuda and exits at
  // once (no CUDA here): the backend must retry in software, with the one log line and the same frames.
  const dir = mkdtempSync(join(tmpdir(), 'sightline-fakehw-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const wrapper = join(dir, 'ffmpeg');
  writeFileSync(
    wrapper,
    `#!/bin/sh\nfor a in "$@"; do [ "$a" = "-init_hw_device" ] && exit 0; done\nexec ${ffmpegBin} "$@"\n`,
  );
  chmodSync(wrapper, 0o755);
  if (ffprobeBin) symlinkSync(ffprobeBin, join(dir, 'ffprobe'));

  test('retries without -hwaccel and logs why', async () => {
    const reference = await decode('ffmpeg', undefined, 3);
    const r = await decode('ffmpeg', 'cuda', 3, { ffmpegPath: wrapper });
    sameFrames(r.frames, reference.frames);
    assert.equal(r.stats.decoder, 'h264 (software)');
    assert.equal(r.stats.state, 'running');
    const lines = hwLines(r.lines);
    // The device "opened" (info: decoding on cuda), then decoding on it failed (warn: back to software).
    assert.deepEqual(
      lines.map((l) => [l.level, l.decoder]),
      [
        [30, 'h264 (cuda)'],
        [40, 'h264 (software)'],
      ],
    );
    assert.match(lines[1]!.msg, /^hwaccel cuda not used \(cuda: .*\); decoding h264 in software$/);
  });

  test('a codec without a hardware decoder is not sent to the device', async () => {
    const { logger, lines } = memoryLogger();
    const source = new StreamSource({
      streamId: 'msmpeg',
      url: media('vtest.avi'),
      backend: 'ffmpeg',
      ffmpegPath: wrapper,
      hwaccel: 'cuda',
      realtime: false,
      fit: { width: 64, height: 64 },
      logger,
    });
    try {
      source.start();
      await collectFrames(source, 2, 30_000);
      assert.equal(source.stats().decoder, 'msmpeg4v3 (software)');
      const hw = hwLines(lines);
      assert.equal(hw.length, 1, JSON.stringify(hw));
      assert.equal(
        hw[0]!.msg,
        'hwaccel cuda not used (cuda: FFmpeg has no cuda decoder for msmpeg4v3); decoding msmpeg4v3 in software',
      );
    } finally {
      await source.close();
    }
  });
});

describe('hwaccel: validation', () => {
  test('the config refuses a bad decoder.hwaccel by its path, and defaults to none', () => {
    assert.throws(
      () => parseEdgeConfig({ streams: [{ source: 'a.mp4' }], decoder: { hwaccel: 'nvdec' } }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const issue = err.issues.find((i) => i.startsWith('decoder.hwaccel: '));
        assert.ok(issue, err.issues.join('\n'));
        for (const v of ['auto', 'cuda', 'vaapi', 'videotoolbox', 'none'])
          assert.ok(issue.includes(v), issue);
        return true;
      },
    );
    const config = parseEdgeConfig({ streams: [{ source: 'a.mp4' }], decoder: { hwaccel: 'vaapi' } });
    assert.equal(config.decoder.hwaccel, 'vaapi');
    assert.equal(parseEdgeConfig({ streams: [{ source: 'a.mp4' }] }).decoder.hwaccel, 'none');
    assert.throws(
      () => parseEdgeConfig({ streams: [{ source: 'a.mp4' }], decoder: { hwaccelDevice: '' } }),
      /decoder\.hwaccelDevice: /,
    );
  });

  test('StreamSource refuses a bad hwaccel', () => {
    assert.throws(
      () => new StreamSource({ streamId: 'x', url: 'a.mp4', hwaccel: 'gpu' as never }),
      /Expected one of auto, cuda, vaapi, videotoolbox, none for hwaccel but received gpu/,
    );
  });
});
