import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { FormatError } from '@sightline/shared';
import { formatMotLine, groupByFrame, motBox, parseMot, readMotFile } from './mot-format.ts';

const isFormat = (re: RegExp) => (e: unknown) =>
  e instanceof FormatError && e.code === 'FORMAT_INVALID' && re.test(e.message);

describe('parseMot', () => {
  test('parses 10-, 9-, 7- and 6-column lines and skips blank lines', () => {
    const text = [
      '1,-1,281.931,187.466,79.93,209.537,0.997784,-1,-1,-1',
      '',
      '2, 3, 10, 20, 30, 40, 1, 1, 0.5',
      '2,-1,1,2,3,4,0.25\r',
      '5,7,0,0,10,10',
      '',
    ].join('\n');
    const r = parseMot(text);
    assert.equal(r.length, 4);
    assert.deepEqual(r[0], {
      frame: 1,
      id: -1,
      x: 281.931,
      y: 187.466,
      w: 79.93,
      h: 209.537,
      conf: 0.997784,
      extra: [-1, -1, -1],
    });
    assert.deepEqual(r[1]?.extra, [1, 0.5]);
    assert.equal(r[2]?.conf, 0.25);
    assert.equal(r[3]?.conf, 1);
    assert.deepEqual(motBox(r[1]!), [10, 20, 40, 60]);
  });

  test('rejects malformed lines with the source and line number', () => {
    const bad: [string, RegExp][] = [
      ['1,2,3', /t\.txt:2: expected 6 to 10 comma-separated numbers but found 3/],
      ['1,2,3,4,5,6,7,8,9,10,11', /t\.txt:2: expected 6 to 10 .* found 11/],
      ['1,2,3,x,5,6,1', /t\.txt:2: column 4 is "x", not a finite number/],
      ['1,2,3,,5,6,1', /t\.txt:2: column 4 is "", not a finite number/],
      ['0,2,3,4,5,6,1', /t\.txt:2: frame must be a positive integer/],
      ['1.5,2,3,4,5,6,1', /t\.txt:2: frame must be a positive integer/],
      ['1,2.5,3,4,5,6,1', /t\.txt:2: id must be an integer/],
      ['1,2,3,4,-5,6,1', /t\.txt:2: width and height must not be negative/],
      ['1,2,3,4,5,Infinity,1', /column 6 is "Infinity"/],
      ['1\t2\t3\t4\t5\t6\t1', /found 1/],
    ];
    for (const [line, re] of bad) {
      assert.throws(() => parseMot(`1,1,0,0,1,1,1\n${line}\n`, 't.txt'), isFormat(re), line);
    }
    assert.throws(() => parseMot(42 as unknown as string), TypeError);
  });

  test('readMotFile names a missing path; groupByFrame sorts frames', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mot-'));
    try {
      await assert.rejects(readMotFile(join(dir, 'nope.txt')), isFormat(/Cannot read MOT file .*nope\.txt/));
      await writeFile(join(dir, 'a.txt'), '3,1,0,0,1,1,1\n1,1,0,0,1,1,1\n3,2,0,0,1,1,1\n');
      const byFrame = groupByFrame(await readMotFile(join(dir, 'a.txt')));
      assert.deepEqual([...byFrame.keys()], [1, 3]);
      assert.equal(byFrame.get(3)?.length, 2);
      await writeFile(join(dir, 'b.txt'), '1,1,0,0,1,1,1\nbad\n');
      await assert.rejects(readMotFile(join(dir, 'b.txt')), isFormat(/b\.txt:2:/));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('formatMotLine writes top-left + size with 2 decimals and parses back', () => {
    const line = formatMotLine(4, 7, [10.123, 20, 50.5, 100.456], 0.876);
    assert.equal(line, '4,7,10.12,20.00,40.38,80.46,0.88,-1,-1,-1');
    const [r] = parseMot(line);
    assert.deepEqual(r, {
      frame: 4,
      id: 7,
      x: 10.12,
      y: 20,
      w: 40.38,
      h: 80.46,
      conf: 0.88,
      extra: [-1, -1, -1],
    });
  });
});
