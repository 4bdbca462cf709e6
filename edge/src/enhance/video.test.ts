// sightline enhance's engine: a real video in, an H.264 MP4 out with the steps applied; bad input is a clear error.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Decoder, Demuxer } from 'node-av/api';
import { frameToBgr } from '../media/image.ts';
import { enhanceVideo, openSuperResolution } from './video.ts';

const media = process.env.SIGHTLINE_MEDIA_DIR ?? '';
const dir = mkdtempSync(join(tmpdir(), 'sightline-enhance-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Every frame of an MP4: codec, size, count, and the channel means of its first frame (B, G, R). */
function probe(path: string) {
  const demuxer = Demuxer.openSync(path);
  const stream = demuxer.video()!;
  const decoder = Decoder.createSync(stream);
  let frames = 0;
  let means: number[] | undefined;
  try {
    for (const packet of demuxer.packetsSync(stream.index)) {
      for (const f of decoder.decodeAllSync(packet)) {
        if (!means) {
          const img = frameToBgr(f);
          const sum = [0, 0, 0];
          for (let i = 0; i < img.data.length; i++) sum[i % 3]! += img.data[i]!;
          means = sum.map((v) => v / (img.width * img.height));
        }
        frames++;
        f.free();
      }
      if (packet === null) break;
    }
    return {
      codec: decoder.getCodec().name,
      width: stream.codecpar.width,
      height: stream.codecpar.height,
      frames,
      means: means!,
    };
  } finally {
    decoder.close();
    demuxer.closeSync();
  }
}

test('white balance + contrast on 8 frames of vtest: an H.264 MP4 of 8 frames, same size, channel means pulled together', async () => {
  const out = join(dir, 'wb.mp4');
  const progress: number[] = [];
  const result = await enhanceVideo(join(media, 'vtest_h264.mp4'), out, {
    whiteBalance: true,
    contrast: true,
    maxFrames: 8,
    onProgress: (done) => progress.push(done),
  });
  assert.deepEqual(result, { frames: 8, width: 768, height: 576, fps: 10 });
  assert.deepEqual(progress, [1, 2, 3, 4, 5, 6, 7, 8]);
  const written = probe(out);
  assert.equal(written.codec, 'h264');
  assert.deepEqual([written.width, written.height, written.frames], [768, 576, 8]);
  const original = probe(join(media, 'vtest_h264.mp4'));
  const spread = (m: number[]) => Math.max(...m) - Math.min(...m);
  assert.ok(
    spread(written.means) < spread(original.means),
    `channel means ${original.means.map((v) => v.toFixed(1))} -> ${written.means.map((v) => v.toFixed(1))}`,
  );
});

test('super-resolution triples the size', async () => {
  const session = await openSuperResolution();
  try {
    const out = join(dir, 'sr.mp4');
    const result = await enhanceVideo(join(media, 'vtest_h264.mp4'), out, {
      superResolution: session,
      maxFrames: 1,
    });
    assert.deepEqual([result.width, result.height, result.frames], [2304, 1728, 1]);
    const written = probe(out);
    assert.deepEqual([written.width, written.height, written.frames], [2304, 1728, 1]);
  } finally {
    await session.release();
  }
});

test('a missing file, a text file and a file without video are clear errors', async () => {
  await assert.rejects(enhanceVideo(join(dir, 'nope.mp4'), join(dir, 'o.mp4'), { contrast: true }), {
    code: 'SOURCE_INVALID',
    message: /Input video not found/,
  });
  writeFileSync(join(dir, 'notes.mp4'), 'not a video\n'.repeat(50));
  await assert.rejects(enhanceVideo(join(dir, 'notes.mp4'), join(dir, 'o.mp4'), { contrast: true }), {
    code: 'SOURCE_INVALID',
  });
});
