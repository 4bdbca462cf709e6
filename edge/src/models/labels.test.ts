import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ModelError } from '@sightline/shared';
import { coco80, loadLabelFile, parseLabels, voc21 } from './labels.ts';

const modelsDir = process.env.MODELS_DIR;

describe('built-in label lists', () => {
  test('coco80 has 80 unique entries with person first and toothbrush last', () => {
    assert.equal(coco80.length, 80);
    assert.equal(new Set(coco80).size, 80);
    assert.equal(coco80[0], 'person');
    assert.equal(coco80[5], 'bus');
    assert.equal(coco80[16], 'dog');
    assert.equal(coco80[79], 'toothbrush');
    assert.ok(Object.isFrozen(coco80));
  });

  test('voc21 has 21 entries with background first and person at 15', () => {
    assert.equal(voc21.length, 21);
    assert.equal(voc21[0], 'background');
    assert.equal(voc21[15], 'person');
  });
});

describe('label files', () => {
  test('imagenet_classes.txt loads as 1000 labels with tench first', async () => {
    assert.ok(modelsDir, 'MODELS_DIR must be set (run through scripts/run-tests.mjs)');
    const labels = await loadLabelFile(join(modelsDir, 'imagenet_classes.txt'));
    assert.equal(labels.length, 1000);
    assert.equal(labels[0], 'tench');
    assert.equal(labels[285], 'Egyptian cat');
    assert.equal(labels[967], 'espresso');
  });

  test('accepts CRLF and one trailing newline', () => {
    assert.deepEqual(parseLabels('a\r\nb\r\nc\r\n', 't'), ['a', 'b', 'c']);
    assert.deepEqual(parseLabels('a\nb', 't'), ['a', 'b']);
  });

  test('rejects an empty file and an empty line with MODEL_INVALID naming the line', () => {
    assert.throws(
      () => parseLabels('', 'empty.txt'),
      (err: unknown) => {
        assert.ok(err instanceof ModelError);
        assert.equal(err.code, 'MODEL_INVALID');
        assert.match(err.message, /empty\.txt is empty/);
        return true;
      },
    );
    assert.throws(() => parseLabels('a\n\nc', 'gap.txt'), /gap\.txt has an empty line at line 2/);
  });

  test('a missing label file is MODEL_MISSING naming the path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'labels-'));
    try {
      const path = join(dir, 'nope.txt');
      await assert.rejects(loadLabelFile(path), (err: unknown) => {
        assert.ok(err instanceof ModelError);
        assert.equal(err.code, 'MODEL_MISSING');
        assert.ok(err.message.includes(path));
        return true;
      });
      await writeFile(join(dir, 'x.txt'), 'one\ntwo\n');
      assert.deepEqual(await loadLabelFile(join(dir, 'x.txt')), ['one', 'two']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
