import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import type { StreamInfo } from '@sightline/edge';
import { StreamSource } from '@sightline/edge';
import type { SourceError } from '@sightline/shared';
import { collectFrames, media, waitFor, waitForState } from './helpers.ts';

const probe = spawnSync('ffmpeg', ['-version'], { encoding: 'utf8' });
const skip =
  probe.error || probe.status !== 0
    ? 'no ffmpeg binary on PATH (apt-get install ffmpeg; see .ci/apt-packages.txt)'
    : undefined;

describe('ffmpeg subprocess backend', { skip }, () => {
  test('reads frames fitted to 416x312 with 9000-tick pts', async () => {
    const source = new StreamSource({
      streamId: 'ff',
      url: media('vtest_h264.mp4'),
      backend: 'ffmpeg',
      realtime: false,
      fit: { width: 416, height: 416 },
    });
    const opened = new Promise<StreamInfo>((resolve) => source.once('open', resolve));
    try {
      source.start();
      const frames = await collectFrames(source, 50, 20_000);
      const info = await opened;
      assert.equal(info.backend, 'ffmpeg');
      assert.equal(info.codec, 'h264');
      assert.equal(info.fps, 10);
      frames.forEach((f, i) => {
        assert.equal(f.seq, i);
        assert.equal(f.width, 416);
        assert.equal(f.height, 312);
        assert.equal(f.sourceWidth, 768);
        assert.equal(f.data.byteLength, 416 * 312 * 3);
        if (i > 0) assert.equal(f.pts - frames[i - 1]!.pts, 9000);
      });
    } finally {
      await source.close();
    }
  });

  test('gives the same pixels as the node-av backend (both use swscale bilinear)', async () => {
    const read = async (backend: 'ffmpeg' | 'node-av') => {
      const s = new StreamSource({
        streamId: backend,
        url: media('vtest_h264.mp4'),
        backend,
        realtime: false,
        fit: { width: 416, height: 416 },
      });
      try {
        s.start();
        return (await collectFrames(s, 5, 20_000))[4]!.data;
      } finally {
        await s.close();
      }
    };
    const [a, b] = [await read('ffmpeg'), await read('node-av')];
    let sum = 0;
    for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
    const mean = sum / a.length;
    assert.ok(mean < 3, `mean absolute difference ${mean.toFixed(2)}`);
  });

  test('holds at the backpressure window', async () => {
    const source = new StreamSource({
      streamId: 'ffw',
      url: media('vtest_h264.mp4'),
      backend: 'ffmpeg',
      realtime: false,
      window: 3,
      fit: { width: 64, height: 64 },
    });
    let seen = 0;
    source.on('frame', () => seen++);
    try {
      source.start();
      await waitFor(source, 'frame', (() => (seen >= 3 ? true : undefined)) as never, 20_000);
      await new Promise((r) => setTimeout(r, 300));
      // One pipe read may hold a few frames, but the source stops far short of the file's 795.
      assert.ok(seen < 20, `saw ${seen} frames with a window of 3`);
      const held = seen;
      source.release(held);
      await waitFor(source, 'frame', (() => (seen > held ? true : undefined)) as never, 5000);
    } finally {
      await source.close();
    }
  });

  test('a missing ffmpeg executable fails with a clear error', async () => {
    const source = new StreamSource({
      streamId: 'noff',
      url: media('vtest_h264.mp4'),
      backend: 'ffmpeg',
      ffmpegPath: '/nonexistent/ffmpeg',
    });
    const errors: SourceError[] = [];
    source.on('error', (e) => errors.push(e));
    try {
      source.start();
      const { error } = await waitForState(source, 'failed', 10_000);
      assert.match(error!.message, /Cannot run \/nonexistent\/ffprobe/);
    } finally {
      await source.close();
    }
  });

  test('a text file renamed .mp4 fails with SOURCE_INVALID', async () => {
    const source = new StreamSource({
      streamId: 'fftext',
      url: new URL(import.meta.url).pathname,
      backend: 'ffmpeg',
    });
    source.on('error', () => undefined);
    try {
      source.start();
      const { error } = await waitForState(source, 'failed', 10_000);
      assert.equal(error!.code, 'SOURCE_INVALID');
      assert.ok(error!.message.includes('ffmpeg-backend.test.ts'), error!.message);
    } finally {
      await source.close();
    }
  });
});
