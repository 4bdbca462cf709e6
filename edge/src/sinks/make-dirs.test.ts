import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeDirs, makeDirsSync } from './make-dirs.ts';

test('makeDirs creates missing parents, accepts existing dirs and fails fast on bad paths', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'make-dirs-'));
  try {
    await makeDirs(join(dir, 'a', 'b', 'c'));
    assert.ok((await stat(join(dir, 'a', 'b', 'c'))).isDirectory());
    await makeDirs(join(dir, 'a', 'b'));
    makeDirsSync(join(dir, 'x', 'y'));
    assert.ok((await stat(join(dir, 'x', 'y'))).isDirectory());
    await writeFile(join(dir, 'f'), '');
    await assert.rejects(makeDirs(join(dir, 'f')), { code: 'ENOTDIR' });
    await assert.rejects(makeDirs(join(dir, 'f', 'g')), { code: 'ENOTDIR' });
    assert.throws(() => makeDirsSync(join(dir, 'f', 'g')), { code: 'ENOTDIR' });
    // Node 20's mkdir({ recursive: true }) never returns for this one.
    await assert.rejects(makeDirs('/proc/sightline-no-such/a'), { code: 'ENOENT' });
    assert.throws(() => makeDirsSync('/proc/sightline-no-such/a'), { code: 'ENOENT' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
