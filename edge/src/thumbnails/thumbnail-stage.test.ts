import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { type FrameResult, ThumbnailConfig, type Track } from '@sightline/shared';
import sharp from 'sharp';
import type { CropSource } from '../preprocess/crop.ts';
import { ThumbnailStage, type TrackThumbnail, thumbnailQuality } from './thumbnail-stage.ts';

/** A 200x150 BGR frame standing for a 400x300 source frame: pure blue (B=255) with a red square at 50..100. */
function frame(): CropSource {
  const width = 200;
  const height = 150;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const red = x >= 50 && x < 100 && y >= 50 && y < 100;
      data[i] = red ? 0 : 255;
      data[i + 2] = red ? 255 : 0;
    }
  }
  return { data, width, height, sourceWidth: 400, sourceHeight: 300 };
}

function track(trackId: number, box: Track['box'], over: Partial<Track> = {}): Track {
  return {
    trackId,
    box,
    score: 0.9,
    classId: 0,
    label: 'person',
    status: 'confirmed',
    age: 10,
    hits: 10,
    timeSinceUpdate: 0,
    ...over,
  };
}

function result(tracks: Track[], streamId = 'a', capturedAt = 1234): FrameResult {
  return {
    streamId,
    seq: 0,
    pts: 0,
    width: 400,
    height: 300,
    capturedAt,
    detections: [],
    tracks,
    timings: {},
  };
}

function stage(config: Partial<ThumbnailConfig> = {}, maxConcurrent = 2, forgetAfterMs?: number) {
  const out: TrackThumbnail[] = [];
  const s = new ThumbnailStage({
    config: ThumbnailConfig.parse(config),
    onThumbnail: (t) => out.push(t),
    maxConcurrent,
    ...(forgetAfterMs !== undefined ? { forgetAfterMs } : {}),
  });
  return { s, out };
}

describe('ThumbnailStage', () => {
  test('encodes a confirmed track as an RGB JPEG cut from the scaled frame, content-addressed', async () => {
    const { s, out } = stage();
    // Source box 100..200 x 100..200 is 50..100 on the half-size frame: the red square.
    s.offer(frame(), result([track(7, [100, 100, 200, 200])]));
    await s.settled();
    assert.equal(out.length, 1);
    const t = out[0]!;
    assert.deepEqual([t.streamId, t.trackId, t.ts], ['a', 7, 1234]);
    assert.equal(t.score, thumbnailQuality({ score: 0.9, box: [100, 100, 200, 200] }));
    assert.equal(t.sha256, createHash('sha256').update(t.jpeg).digest('hex'));
    assert.deepEqual([t.jpeg[0], t.jpeg[1], t.jpeg.at(-2), t.jpeg.at(-1)], [0xff, 0xd8, 0xff, 0xd9]);
    const { data, info } = await sharp(t.jpeg).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height, info.channels], [50, 50, 3]);
    const mid = (25 * 50 + 25) * 3;
    assert.ok(
      data[mid]! > 200 && data[mid + 2]! < 60,
      `red in RGB order: ${[...data.subarray(mid, mid + 3)]}`,
    );
    assert.deepEqual(s.stats(), { encoded: 1, skippedBusy: 0, failed: 0, tracks: 1 });
  });

  test('scales down to fit maxSide, never up', async () => {
    const { s, out } = stage({ maxSide: 32 });
    s.offer(frame(), result([track(1, [0, 0, 400, 200])]));
    await s.settled();
    const meta = await sharp(out[0]!.jpeg).metadata();
    assert.deepEqual([meta.width, meta.height], [32, 16]);
  });

  test('only confirmed tracks matched on this frame, tall enough', async () => {
    const { s, out } = stage({ minHeight: 48 });
    s.offer(
      frame(),
      result([
        track(1, [0, 0, 100, 100], { status: 'tentative' }),
        track(2, [0, 0, 100, 100], { timeSinceUpdate: 1 }),
        track(3, [0, 0, 100, 40]),
        track(4, [0, 0, 100, 100], { score: 0 }),
      ]),
    );
    await s.settled();
    assert.equal(out.length, 0);
  });

  test('a new thumbnail only when the quality beats the best by 10 %', async () => {
    const { s, out } = stage();
    const offer = async (score: number) => {
      s.offer(frame(), result([track(1, [0, 0, 100, 128], { score })]));
      await s.settled();
    };
    await offer(0.5);
    await offer(0.5);
    await offer(0.54);
    await offer(0.4);
    assert.equal(out.length, 1);
    await offer(0.56);
    assert.deepEqual(
      out.map((t) => t.score),
      [0.25, 0.28],
    );
  });

  test('at most maxConcurrent encodes at once; the rest are skipped, not queued, and come later', async () => {
    const { s, out } = stage({}, 2);
    const tracks = [1, 2, 3, 4, 5].map((id) => track(id, [0, 0, 100, 100]));
    s.offer(frame(), result(tracks));
    assert.equal(s.busy, 2);
    s.offer(frame(), result(tracks));
    assert.equal(s.busy, 2);
    await s.settled();
    assert.equal(out.length, 2);
    assert.equal(s.stats().skippedBusy, 6);
    s.offer(frame(), result(tracks));
    await s.settled();
    s.offer(frame(), result(tracks));
    await s.settled();
    assert.deepEqual(out.map((t) => t.trackId).sort(), [1, 2, 3, 4, 5]);
  });

  test('tracks not seen for forgetAfterMs are forgotten; forgetStream drops a stream', async () => {
    const { s, out } = stage({}, 2, 20);
    s.offer(frame(), result([track(1, [0, 0, 100, 100])], 'a'));
    s.offer(frame(), result([track(1, [0, 0, 100, 100])], 'b'));
    await s.settled();
    assert.equal(s.stats().tracks, 2);
    await new Promise((r) => setTimeout(r, 40));
    s.offer(frame(), result([], 'b'));
    assert.equal(s.stats().tracks, 0);
    s.offer(frame(), result([track(1, [0, 0, 100, 100])], 'a'));
    await s.settled();
    assert.equal(out.length, 3, 'a forgotten track gets a thumbnail again');
    s.forgetStream('a');
    assert.equal(s.stats().tracks, 0);
  });

  test('wants() one frame in `every`; nothing when disabled or closed', async () => {
    const { s, out } = stage({ every: 3 });
    assert.deepEqual(
      [0, 1, 2, 3, 6].map((n) => s.wants(n)),
      [true, false, false, true, true],
    );
    s.configure(ThumbnailConfig.parse({ enabled: false }));
    assert.equal(s.wants(0), false);
    s.offer(frame(), result([track(1, [0, 0, 100, 100])]));
    await s.close();
    assert.equal(out.length, 0);
    s.configure(ThumbnailConfig.parse({}));
    assert.equal(s.wants(0), false, 'closed');
  });
});
