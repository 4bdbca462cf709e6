import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ModelError } from '@sightline/shared';
import { findModel, loadManifest } from './manifest.ts';
import { checkFile, sha256File, verifyFile } from './verify.ts';

const MODELS = process.env.MODELS_DIR;

describe('verifyFile', () => {
  let dir = '';
  let source = '';
  let spec = { id: '', file: '', sha256: '', bytes: 0 };

  before(async () => {
    assert.ok(MODELS, 'MODELS_DIR must be set (run through scripts/run-tests.mjs)');
    dir = await mkdtemp(join(tmpdir(), 'verify-'));
    const manifest = await loadManifest();
    spec = findModel(manifest, 'super_resolution');
    source = join(MODELS, spec.file);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function expectError(code: string, path: string, extra: RegExp[]) {
    return (err: unknown) => {
      assert.ok(err instanceof ModelError, `expected a ModelError, got ${String(err)}`);
      assert.equal(err.code, code);
      assert.ok(err.message.includes(path), `message names the path: ${err.message}`);
      assert.ok(err.message.includes(spec.sha256), `message names the expected sha256: ${err.message}`);
      for (const re of extra) assert.match(err.message, re);
      return true;
    };
  }

  test('accepts the shared model file', async () => {
    await verifyFile(source, spec);
    assert.equal(await sha256File(source), spec.sha256);
  });

  test('a missing file is MODEL_MISSING naming the path, the sha256 and the fetch command', async () => {
    const path = join(dir, 'absent.onnx');
    await assert.rejects(
      verifyFile(path, spec),
      expectError('MODEL_MISSING', path, [/sightline models fetch super_resolution/]),
    );
    assert.deepEqual((await checkFile(path, spec)).status, 'missing');
  });

  test('a truncated copy is MODEL_CHECKSUM naming expected and actual sha256', async () => {
    const path = join(dir, 'truncated.onnx');
    await copyFile(source, path);
    await truncate(path, 1000);
    const actual = await sha256File(path);
    await assert.rejects(
      verifyFile(path, spec),
      expectError('MODEL_CHECKSUM', path, [
        /has 1000 bytes but 240587 were expected \(truncated\)/,
        new RegExp(actual),
      ]),
    );
  });

  test('a byte-flipped copy of the same size is MODEL_CHECKSUM', async () => {
    const path = join(dir, 'flipped.onnx');
    const bytes = await readFile(source);
    bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
    await writeFile(path, bytes);
    const actual = await sha256File(path);
    assert.notEqual(actual, spec.sha256);
    await assert.rejects(
      verifyFile(path, spec),
      expectError('MODEL_CHECKSUM', path, [
        /right size but the wrong content/,
        new RegExp(actual),
        /--force/,
      ]),
    );
    assert.equal((await checkFile(path, spec)).status, 'corrupt');
  });

  test('a directory is MODEL_INVALID', async () => {
    await assert.rejects(
      verifyFile(dir, spec),
      (err: unknown) => err instanceof ModelError && err.code === 'MODEL_INVALID',
    );
  });

  test('a cached success is dropped when the file changes in place', async () => {
    const path = join(dir, 'cached.onnx');
    await copyFile(source, path);
    await verifyFile(path, spec);
    await verifyFile(path, spec);
    const bytes = await readFile(path);
    bytes[0] = bytes[0]! ^ 0x01;
    await writeFile(path, bytes);
    const later = new Date(Date.now() + 5000);
    await utimes(path, later, later);
    await assert.rejects(
      verifyFile(path, spec),
      (err: unknown) => err instanceof ModelError && err.code === 'MODEL_CHECKSUM',
    );
    bytes[0] = bytes[0]! ^ 0x01;
    await writeFile(path, bytes);
    await verifyFile(path, spec);
  });
});
