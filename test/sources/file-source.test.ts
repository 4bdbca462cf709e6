import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EncodedPacket, StreamInfo } from '@sightline/edge';
import { StreamSource } from '@sightline/edge';
import { PTS_CLOCK_HZ } from '@sightline/shared';
import { collectFrames, media, waitFor, waitForState } from './helpers.ts';

const H264 = () => media('vtest_h264.mp4');

describe('file source (node-av worker)', () => {
  test('reads 100 frames of vtest_h264.mp4 fitted to 416x416 with seq from 0 and 9000-tick pts', async () => {
    const source = new StreamSource({
      streamId: 'f1',
      url: H264(),
      realtime: false,
      fit: { width: 416, height: 416 },
    });
    const opened = new Promise<StreamInfo>((resolve) => source.once('open', resolve));
    try {
      source.start();
      const frames = await collectFrames(source, 100, 20_000);
      const info = await opened;
      assert.equal(info.codec, 'h264');
      assert.equal(info.width, 768);
      assert.equal(info.height, 576);
      assert.equal(info.fps, 10);
      assert.equal(info.profile, 'Main');
      assert.equal(info.hasBFrames, false);
      assert.ok(
        info.extradata.length > 0 && info.extradata[0] === 1,
        'MP4 extradata is an avcC record (version 1)',
      );
      assert.equal(info.outputWidth, 416);
      assert.equal(info.outputHeight, 312);
      frames.forEach((f, i) => {
        assert.equal(f.streamId, 'f1');
        assert.equal(f.seq, i);
        assert.equal(f.width, 416);
        assert.equal(f.height, 312);
        assert.equal(f.sourceWidth, 768);
        assert.equal(f.sourceHeight, 576);
        assert.equal(f.data.byteLength, 416 * 312 * 3);
        assert.ok(f.decodeMs >= 0 && f.decodeMs < 1000);
        if (i > 0) assert.equal(f.pts - frames[i - 1]!.pts, PTS_CLOCK_HZ / 10);
      });
      // Real picture content, not a zeroed buffer: the frame has varied pixel values.
      const sample = frames[50]!.data;
      assert.ok(new Set(sample.subarray(0, 30000)).size > 50);
    } finally {
      await source.close();
    }
  });

  test('full size by default, and a box larger than the source never upscales', async () => {
    for (const fit of [undefined, { width: 4000, height: 4000 }]) {
      const source = new StreamSource({ streamId: 'f2', url: H264(), realtime: false, fit });
      try {
        source.start();
        const [f] = await collectFrames(source, 1, 20_000);
        assert.equal(f!.width, 768);
        assert.equal(f!.height, 576);
        assert.equal(f!.data.byteLength, 768 * 576 * 3);
      } finally {
        await source.close();
      }
    }
  });

  test('accepts a file:// URL', async () => {
    const source = new StreamSource({
      streamId: 'f3',
      url: new URL(`file://${H264()}`).href,
      realtime: false,
    });
    try {
      source.start();
      const frames = await collectFrames(source, 3, 20_000);
      assert.equal(frames.length, 3);
    } finally {
      await source.close();
    }
  });

  test('loop goes past the end with seq and pts still increasing', async () => {
    const source = new StreamSource({
      streamId: 'loop',
      url: H264(),
      realtime: false,
      loop: true,
      fit: { width: 96, height: 96 },
    });
    let ended = false;
    source.on('end', () => {
      ended = true;
    });
    try {
      source.start();
      const frames = await collectFrames(source, 900, 60_000); // the file has 795
      assert.equal(ended, false);
      for (let i = 1; i < frames.length; i++) {
        assert.equal(frames[i]!.seq, i);
        assert.equal(frames[i]!.pts - frames[i - 1]!.pts, 9000, `pts step at seq ${i}`);
      }
      assert.equal(source.state, 'running');
    } finally {
      await source.close();
    }
  });

  test('ends after the last frame without loop', async () => {
    const source = new StreamSource({
      streamId: 'end',
      url: H264(),
      realtime: false,
      fit: { width: 64, height: 64 },
    });
    let frames = 0;
    source.on('frame', () => {
      frames++;
      source.release();
    });
    try {
      const ended = new Promise<void>((resolve) => source.once('end', resolve));
      source.start();
      await ended;
      assert.equal(frames, 795);
      assert.equal(source.state, 'ended');
      assert.equal(source.stats().frames, 795);
    } finally {
      await source.close();
    }
  });

  test('realtime paces a file at its native 10 fps', async () => {
    const source = new StreamSource({
      streamId: 'rt',
      url: H264(),
      realtime: true,
      fit: { width: 96, height: 96 },
    });
    try {
      source.start();
      const frames = await collectFrames(source, 16, 10_000);
      const span = frames[15]!.capturedAt - frames[0]!.capturedAt; // 15 intervals of 100 ms
      assert.ok(
        span > 1350 && span < 1700,
        `15 frame intervals took ${span.toFixed(0)} ms, expected about 1500`,
      );
      const fps = source.stats().fps;
      assert.ok(fps > 8.5 && fps < 11.5, `stats fps ${fps}`);
    } finally {
      await source.close();
    }
  });

  test('an unpaced file holds at the backpressure window until frames are released', async () => {
    const source = new StreamSource({
      streamId: 'win',
      url: H264(),
      realtime: false,
      window: 4,
      fit: { width: 64, height: 64 },
    });
    const seen: number[] = [];
    source.on('frame', (f) => seen.push(f.seq));
    try {
      source.start();
      await waitFor(source, 'frame', (() => (seen.length >= 4 ? true : undefined)) as never, 20_000);
      // Decoding 20 more frames takes well under 300 ms; none may come while 4 are unreleased.
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(seen.length, 4);
      assert.equal(source.stats().inFlight, 4);
      source.release(2);
      await waitFor(source, 'frame', (() => (seen.length >= 6 ? true : undefined)) as never, 5000);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(seen.length, 6);
      assert.deepEqual(seen, [0, 1, 2, 3, 4, 5]);
    } finally {
      await source.close();
    }
  });

  test('keepPackets emits the H.264 packets in length-prefixed AVCC form', async () => {
    const source = new StreamSource({
      streamId: 'pk',
      url: H264(),
      realtime: false,
      keepPackets: true,
      fit: { width: 64, height: 64 },
    });
    const packets: EncodedPacket[] = [];
    source.on('packet', (p) => packets.push(p));
    try {
      source.start();
      await collectFrames(source, 20, 20_000);
      assert.ok(packets.length >= 20);
      const first = packets[0]!;
      assert.equal(first.codec, 'h264');
      assert.equal(first.keyframe, true);
      assert.equal(first.pts, 0);
      // AVCC: a sequence of [4-byte big-endian length][NAL] that exactly covers the packet (no 00 00 00 01 start codes).
      for (const p of packets.slice(0, 20)) {
        let at = 0;
        while (at < p.data.length) {
          const len = new DataView(p.data.buffer, p.data.byteOffset + at).getUint32(0);
          assert.ok(len > 0);
          at += 4 + len;
        }
        assert.equal(at, p.data.length);
      }
      assert.equal(
        packets.filter((p) => p.keyframe).length,
        1,
        'GOP 20: one keyframe in the first 20 packets',
      );
      assert.equal(source.stats().packets, packets.length);
    } finally {
      await source.close();
    }
  });

  test('vtest.avi (MS-MPEG4 v3) decodes too', async () => {
    const source = new StreamSource({ streamId: 'avi', url: media('vtest.avi'), realtime: false });
    try {
      const opened = new Promise<StreamInfo>((resolve) => source.once('open', resolve));
      source.start();
      const frames = await collectFrames(source, 10, 20_000);
      assert.equal((await opened).codec, 'msmpeg4v3');
      assert.equal(frames[9]!.width, 768);
      assert.equal(frames[9]!.pts - frames[8]!.pts, 9000);
    } finally {
      await source.close();
    }
  });

  test('requestKeyframe: a re-encoded stream makes an IDR now (at most twice a second); a passthrough one cannot', async () => {
    const avi = new StreamSource({
      streamId: 'kf',
      url: media('vtest.avi'),
      realtime: true,
      keepPackets: true,
      fit: { width: 64, height: 64 },
    });
    const mp4 = new StreamSource({ streamId: 'kf2', url: H264(), realtime: true, keepPackets: true });
    const packets: EncodedPacket[] = [];
    avi.on('packet', (p) => packets.push(p));
    try {
      avi.start();
      mp4.start();
      await collectFrames(avi, 5, 20_000);
      await collectFrames(mp4, 2, 20_000);
      assert.equal(mp4.requestKeyframe(), false, 'packets as the camera sent them: no IDR on demand');
      const before = packets.length;
      const now = Date.now();
      assert.equal(avi.requestKeyframe(now), true);
      assert.equal(
        avi.requestKeyframe(now + 100),
        false,
        'a second request within 500 ms is folded into the first',
      );
      await waitFor(
        avi,
        'frame',
        () => (packets.length >= before + 3 ? true : undefined),
        5000,
        'three more packets',
      );
      // 10 fps, GOP 2 s: no keyframe of its own this early; the one asked for comes within a frame or two.
      const keyframes = packets.slice(before).filter((p) => p.keyframe);
      assert.equal(keyframes.length, 1, `keyframes after the request: ${keyframes.length}`);
      assert.ok(keyframes[0]!.pts - packets[before]!.pts <= 2 * 9000, 'an IDR within two frames');
      assert.equal(avi.requestKeyframe(now + 600), true);
    } finally {
      await avi.close();
      await mp4.close();
    }
  });

  test('close() is idempotent and stops frames', async () => {
    const source = new StreamSource({ streamId: 'close', url: H264(), realtime: true });
    source.start();
    await waitForState(source, 'running', 20_000);
    let after = 0;
    await Promise.all([source.close(), source.close()]);
    source.on('frame', () => after++);
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(after, 0);
    assert.equal(source.closed, true);
  });
});
