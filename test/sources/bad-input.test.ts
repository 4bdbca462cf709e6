import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { StreamSource } from '@sightline/edge';
import { SourceError } from '@sightline/shared';
import { GapMeter, MAX_GAP_MS, media, waitForState } from './helpers.ts';

let dir: string;
/** A realtime source that must keep producing frames while the bad ones fail. */
let healthy: StreamSource;
let meter: GapMeter;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sightline-bad-'));
  writeFileSync(join(dir, 'notes.mp4'), 'These are meeting notes, not a video.\n'.repeat(20));
  const mp4 = readFileSync(media('vtest_h264.mp4'));
  writeFileSync(join(dir, 'truncated.mp4'), mp4.subarray(0, Math.floor(mp4.length / 2)));
  writeFileSync(join(dir, 'header-only.mp4'), mp4.subarray(0, 2000));
  healthy = new StreamSource({
    streamId: 'healthy',
    url: media('vtest_h264.mp4'),
    realtime: true,
    loop: true,
    fit: { width: 64, height: 64 },
  });
  meter = new GapMeter(healthy);
  healthy.start();
  await waitForState(healthy, 'running', 20_000);
  meter.begin();
});

after(async () => {
  await healthy.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Start a source that must fail; returns the error from 'error' and checks the 'failed' state carries it. */
async function expectFailure(url: string): Promise<SourceError> {
  const source = new StreamSource({ streamId: 'bad', url, realtime: false });
  const errors: SourceError[] = [];
  source.on('error', (e) => errors.push(e));
  let frames = 0;
  source.on('frame', () => frames++);
  try {
    source.start();
    const { error } = await waitForState(source, 'failed', 20_000);
    assert.ok(error instanceof SourceError);
    assert.equal(errors.at(-1), error);
    assert.equal(frames, 0);
    assert.equal(source.stats().lastError, `${error.code}: ${error.message}`);
    return error;
  } finally {
    await source.close();
  }
}

describe('bad inputs fail with clear errors while another source keeps running', () => {
  test('rejects a missing file with SOURCE_INVALID "No such file"', async () => {
    const missing = join(dir, 'missing.mp4');
    const err = await expectFailure(missing);
    assert.equal(err.code, 'SOURCE_INVALID');
    assert.equal(err.message, `No such file: ${missing}`);
  });

  test('rejects a directory with SOURCE_INVALID', async () => {
    const err = await expectFailure(dir);
    assert.equal(err.code, 'SOURCE_INVALID');
    assert.match(err.message, /is a directory/);
    assert.ok(err.message.includes(dir));
  });

  test('rejects a text file renamed .mp4 with SOURCE_INVALID: not a media file', async () => {
    const path = join(dir, 'notes.mp4');
    const err = await expectFailure(path);
    assert.equal(err.code, 'SOURCE_INVALID');
    assert.match(err.message, /not a media file/);
    assert.ok(err.message.includes(path));
  });

  test('rejects an mp4 cut inside its header with SOURCE_INVALID', async () => {
    const err = await expectFailure(join(dir, 'header-only.mp4'));
    assert.equal(err.code, 'SOURCE_INVALID');
  });

  test('rejects an unsupported URL scheme with SOURCE_INVALID naming the scheme', async () => {
    const err = await expectFailure('ftp://127.0.0.1/video.mp4');
    assert.equal(err.code, 'SOURCE_INVALID');
    assert.match(err.message, /Unsupported URL scheme "ftp:" in ftp:\/\/127\.0\.0\.1\/video\.mp4/);
  });

  test('a truncated mp4 yields the frames it has, then ends cleanly or fails with a clear error', async () => {
    const source = new StreamSource({
      streamId: 'trunc',
      url: join(dir, 'truncated.mp4'),
      realtime: false,
      fit: { width: 64, height: 64 },
    });
    const errors: SourceError[] = [];
    source.on('error', (e) => errors.push(e));
    let frames = 0;
    source.on('frame', () => {
      frames++;
      source.release();
    });
    try {
      const final = new Promise<string>((resolve) =>
        source.on('state', (s) => {
          if (s === 'ended' || s === 'failed') resolve(s);
        }),
      );
      source.start();
      const state = await final;
      // Half the bytes hold roughly half of the 795 frames.
      assert.ok(frames > 300 && frames < 795, `decoded ${frames} frames`);
      if (state === 'failed') assert.ok(errors.length > 0);
      for (const e of errors) {
        assert.ok(['DECODE_FAILED', 'SOURCE_INVALID'].includes(e.code));
        assert.ok(e.message.includes('truncated.mp4'), e.message);
      }
    } finally {
      await source.close();
    }
  });

  test('the healthy source never paused during the failures', () => {
    const gap = meter.end();
    assert.ok(meter.frames > 10, `healthy source produced ${meter.frames} frames`);
    assert.ok(gap < MAX_GAP_MS, `largest gap between healthy frames was ${gap.toFixed(0)} ms`);
    assert.equal(healthy.state, 'running');
  });
});

describe('argument checks', () => {
  test('bad options throw TypeError / RangeError naming the option', () => {
    const url = media('vtest_h264.mp4');
    assert.throws(() => new StreamSource({ streamId: 'x', url: '' }), { name: 'TypeError', message: /url/ });
    assert.throws(() => new StreamSource({ streamId: '', url }), { name: 'TypeError', message: /streamId/ });
    assert.throws(() => new StreamSource({ streamId: 'x', url, window: -1 }), {
      name: 'RangeError',
      message: 'Expected a positive integer for window but received -1 of type number',
    });
    assert.throws(() => new StreamSource({ streamId: 'x', url, fit: { width: 0, height: 10 } }), {
      name: 'RangeError',
      message: /fit\.width/,
    });
    assert.throws(() => new StreamSource({ streamId: 'x', url, reconnect: { initialDelayMs: -5 } }), {
      name: 'RangeError',
      message: /initialDelayMs/,
    });
    assert.throws(() => new StreamSource({ streamId: 'x', url, backend: 'ffmpeg', keepPackets: true }), {
      name: 'RangeError',
      message: /keepPackets/,
    });
    assert.throws(() => new StreamSource({ streamId: 'x', url, loop: 'yes' as never }), {
      name: 'TypeError',
      message: /loop/,
    });
    const s = new StreamSource({ streamId: 'x', url });
    assert.throws(() => s.release(0), { name: 'RangeError', message: /count/ });
  });

  test('a failure with no error listener does not crash the process', async () => {
    const source = new StreamSource({ streamId: 'quiet', url: join(dir, 'missing.mp4') });
    source.start();
    const { error } = await waitForState(source, 'failed', 5000);
    assert.equal(error?.code, 'SOURCE_INVALID');
    await source.close();
  });
});
