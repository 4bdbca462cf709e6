import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { StreamInfo } from '@sightline/edge';
import { StreamSource } from '@sightline/edge';
import type { SourceError } from '@sightline/shared';
import { freePort, RtspServer, rtspServerUnavailable } from '../fixtures/rtsp-server.ts';
import { collectFrames, GapMeter, MAX_GAP_MS, media, waitForState } from './helpers.ts';

const skip = rtspServerUnavailable();

describe('RTSP source against a GStreamer RTSP server', { skip }, () => {
  let server: RtspServer;
  before(async () => {
    server = await RtspServer.start({ file: media('vtest_h264.mp4') });
  });
  after(async () => {
    await server?.stop();
  });

  test('connects over TCP and receives frames', async () => {
    const source = new StreamSource({ streamId: 'cam', url: server.url, fit: { width: 416, height: 416 } });
    const opened = new Promise<StreamInfo>((resolve) => source.once('open', resolve));
    try {
      source.start();
      const frames = await collectFrames(source, 40, 20_000);
      const info = await opened;
      assert.equal(info.codec, 'h264');
      assert.equal(info.width, 768);
      assert.equal(info.height, 576);
      assert.deepEqual([frames[0]!.width, frames[0]!.height], [416, 312]);
      assert.equal(frames[0]!.seq, 0);
      for (let i = 1; i < frames.length; i++) {
        assert.equal(frames[i]!.seq, i);
        assert.ok(frames[i]!.pts > frames[i - 1]!.pts);
      }
      // The frames buffered while probing come in a burst; after that the server paces them at 10 fps.
      const span = frames[29]!.capturedAt - frames[0]!.capturedAt;
      assert.ok(
        span > 900,
        `30 live frames arrived within ${span.toFixed(0)} ms (a file read unpaced takes ~100 ms)`,
      );
    } finally {
      await source.close();
    }
  });

  test('survives the server going away: reconnecting, then running, while a file source never pauses', async () => {
    const cam = new StreamSource({
      streamId: 'cam',
      url: server.url,
      fit: { width: 160, height: 160 },
      reconnect: { initialDelayMs: 200, maxDelayMs: 1000 },
    });
    const file = new StreamSource({
      streamId: 'file',
      url: media('vtest_h264.mp4'),
      realtime: true,
      fit: { width: 160, height: 160 },
    });
    const meter = new GapMeter(file);
    const states: string[] = [];
    cam.on('state', (s) => states.push(s));
    const errors: SourceError[] = [];
    cam.on('error', (e) => errors.push(e));
    try {
      file.start();
      cam.start();
      const before = await collectFrames(cam, 5, 20_000);
      await waitForState(file, 'running', 20_000);
      meter.begin();
      const reconnecting = waitForState(cam, 'reconnecting', 15_000);
      await server.stop();
      const { error } = await reconnecting;
      assert.ok(error, 'reconnecting carries the reason');
      await new Promise((r) => setTimeout(r, 1000)); // outage: the camera retries against a closed port
      const running = waitForState(cam, 'running', 20_000);
      await server.start();
      await running;
      const afterFrames = await collectFrames(cam, 5, 20_000);
      const gap = meter.end();
      assert.ok(afterFrames[0]!.seq > before.at(-1)!.seq, 'seq keeps increasing across the reconnect');
      assert.ok(afterFrames[0]!.pts > before.at(-1)!.pts, 'pts keeps increasing across the reconnect');
      assert.ok(cam.stats().reconnects >= 1);
      assert.ok(
        errors.length >= 1 && errors.every((e) => e.code === 'SOURCE_UNREACHABLE'),
        errors.map((e) => e.message).join('; '),
      );
      assert.deepEqual(states.slice(0, 2), ['starting', 'running']);
      assert.ok(states.includes('reconnecting'));
      assert.equal(states.at(-1), 'running');
      assert.ok(meter.frames > 20, `file source produced ${meter.frames} frames`);
      assert.ok(
        gap < MAX_GAP_MS,
        `largest gap of the file source during the outage was ${gap.toFixed(0)} ms`,
      );
    } finally {
      await Promise.all([cam.close(), file.close()]);
    }
  });
});

describe('RTSP source with nothing listening', () => {
  test('reports SOURCE_UNREACHABLE and retries with growing delays until closed', async () => {
    const port = await freePort();
    const source = new StreamSource({
      streamId: 'nobody',
      url: `rtsp://user:secret@127.0.0.1:${port}/cam`,
      reconnect: { initialDelayMs: 100, maxDelayMs: 5000, jitter: 0 },
    });
    const errors: SourceError[] = [];
    source.on('error', (e) => errors.push(e));
    const retries: { delay: number; at: number }[] = [];
    const fourth = new Promise<void>((resolve) =>
      source.on('state', (s, _e, delay) => {
        if (s !== 'reconnecting') return;
        retries.push({ delay: delay!, at: performance.now() });
        if (retries.length === 4) resolve();
      }),
    );
    try {
      source.start();
      await fourth;
      assert.deepEqual(
        retries.map((r) => r.delay),
        [100, 200, 400, 800],
      );
      // The waits really happen: each interval is at least the announced delay.
      for (let i = 1; i < retries.length; i++) {
        assert.ok(retries[i]!.at - retries[i - 1]!.at >= retries[i - 1]!.delay - 5);
      }
      assert.ok(errors.length >= 4);
      for (const e of errors) {
        assert.equal(e.code, 'SOURCE_UNREACHABLE');
        assert.ok(e.message.includes(`rtsp://user:***@127.0.0.1:${port}/cam`), e.message);
        assert.ok(!e.message.includes('secret'));
      }
      assert.equal(source.state, 'reconnecting');
      assert.equal(source.stats().reconnects, 3);
    } finally {
      await source.close(); // during a reconnect wait
    }
    const statesAfterClose: string[] = [];
    source.on('state', (s) => statesAfterClose.push(s));
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(statesAfterClose, [], 'no retries after close()');
  });
});
