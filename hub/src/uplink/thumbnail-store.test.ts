import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SightlineError } from '@sightline/shared';
import { fakeJpeg } from '../../test-support/synthetic-batch.ts';
import { ThumbnailStore } from './thumbnail-store.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function isInvalid(pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof SightlineError, String(err));
    assert.equal(err.code, 'THUMBNAIL_INVALID');
    assert.match(err.message, pattern);
    return true;
  };
}

describe('ThumbnailStore', () => {
  let dir = '';
  let store: ThumbnailStore;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sightline-thumbs-'));
    store = new ThumbnailStore({ dataDir: dir });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('stores content-addressed under thumbnails/<aa>/<sha256>.jpg, once', async () => {
    const jpeg = fakeJpeg('a');
    const id = sha(jpeg);
    assert.equal(store.path(id), join(dir, 'thumbnails', id.slice(0, 2), `${id}.jpg`));
    assert.equal(await store.has(id), false);
    assert.equal(await store.read(id), undefined);
    assert.equal(await store.put(id, jpeg), true);
    assert.equal(await store.put(id, jpeg), false);
    assert.deepEqual(new Uint8Array((await store.read(id))!), jpeg);
    assert.equal(await store.has(id), true);
    assert.deepEqual(readdirSync(join(dir, 'thumbnails', id.slice(0, 2))), [`${id}.jpg`]);
  });

  it('rejects bytes that do not match the sha256, or are not a JPEG', async () => {
    const jpeg = fakeJpeg('b');
    const other = sha(fakeJpeg('c'));
    await assert.rejects(store.put(other, jpeg), isInvalid(/does not match its bytes/));
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
    await assert.rejects(store.put(sha(png), png), isInvalid(/is not a JPEG \(starts with 89504e47/));
    await assert.rejects(store.put(sha(new Uint8Array()), new Uint8Array()), isInvalid(/not a JPEG/));
    assert.equal(existsSync(store.path(other)), false);
    assert.equal(existsSync(store.path(sha(png))), false);
  });

  it('refuses ids that are not 64 lowercase hex digits (no path traversal)', async () => {
    const good = sha(fakeJpeg('d'));
    for (const id of [
      '../../etc/passwd',
      `../${good.slice(3)}`,
      good.toUpperCase(),
      good.slice(1),
      `${good}0`,
      `${good.slice(0, 63)}/`,
      '',
    ]) {
      assert.throws(() => store.path(id), isInvalid(/64 lowercase hex/), id);
      await assert.rejects(store.read(id), isInvalid(/64 lowercase hex/), id);
      await assert.rejects(store.put(id, fakeJpeg('d')), isInvalid(/64 lowercase hex/), id);
    }
  });
});
