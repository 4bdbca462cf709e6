import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { SourceError } from '@sightline/shared';
import { loadImageBgr } from './image.ts';

const media = process.env.SIGHTLINE_MEDIA_DIR ?? '';
const tmp = mkdtempSync(join(tmpdir(), 'sightline-image-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('loadImageBgr', () => {
  test('decodes bus.jpg to packed BGR24 at its native 810x1080', () => {
    const img = loadImageBgr(join(media, 'bus.jpg'));
    assert.equal(img.width, 810);
    assert.equal(img.height, 1080);
    assert.equal(img.data.length, 810 * 1080 * 3);
    // The bus in bus.jpg is blue: over a patch of its side the first byte (B) clearly beats the third (R).
    // ffmpeg -i bus.jpg -pix_fmt bgr24 gives means B 97.0, G 76.0, R 60.6 for this patch.
    const sum = [0, 0, 0];
    for (let y = 300; y < 450; y++) {
      for (let x = 300; x < 500; x++) {
        const i = (y * 810 + x) * 3;
        for (let c = 0; c < 3; c++) sum[c]! += img.data[i + c]!;
      }
    }
    const mean = sum.map((v) => v / (150 * 200));
    assert.ok(
      Math.abs(mean[0]! - 97.0) < 2 && Math.abs(mean[1]! - 76.0) < 2 && Math.abs(mean[2]! - 60.6) < 2,
      `${mean}`,
    );
  });

  test('rejects a missing file with SOURCE_INVALID', () => {
    assert.throws(
      () => loadImageBgr(join(tmp, 'nope.jpg')),
      (err: unknown) =>
        err instanceof SourceError && err.code === 'SOURCE_INVALID' && /not found/.test(err.message),
    );
  });

  test('rejects a file that is not an image with a SourceError', () => {
    const p = join(tmp, 'fake.jpg');
    writeFileSync(p, 'this is not a jpeg at all\n'.repeat(10));
    assert.throws(
      () => loadImageBgr(p),
      (err: unknown) => err instanceof SourceError && err.message.includes(p),
    );
  });

  test('rejects a truncated JPEG with a SourceError', () => {
    const p = join(tmp, 'truncated.jpg');
    writeFileSync(p, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0]));
    assert.throws(() => loadImageBgr(p), SourceError);
  });

  test('rejects an empty path with a TypeError', () => {
    assert.throws(() => loadImageBgr(''), TypeError);
  });
});
