import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeClassMap, encodeClassMap } from './class-map.ts';

test('a class map region round-trips through its runs; runs continue across rows', () => {
  // 4 x 3 map; the region is the middle 2 columns of all 3 rows.
  const map = Uint8Array.from([9, 1, 1, 9, 9, 1, 2, 9, 9, 2, 2, 9]);
  const coded = encodeClassMap(map, 4, { x: 1, y: 0, width: 2, height: 3 });
  assert.deepEqual(coded, { w: 2, h: 3, runs: [1, 3, 2, 3] });
  assert.deepEqual([...decodeClassMap(coded)], [1, 1, 1, 2, 2, 2]);
  const whole = encodeClassMap(map, 4, { x: 0, y: 0, width: 4, height: 3 });
  assert.deepEqual(decodeClassMap(whole), map);
});

test('regions outside the map and runs that do not fill it are refused', () => {
  const map = new Uint8Array(12);
  assert.throws(() => encodeClassMap(map, 4, { x: 3, y: 0, width: 2, height: 1 }), RangeError);
  assert.throws(() => encodeClassMap(map, 4, { x: 0, y: 2, width: 4, height: 2 }), RangeError);
  assert.throws(() => encodeClassMap(map, 4, { x: 0, y: 0, width: 0, height: 1 }), RangeError);
  assert.throws(() => decodeClassMap({ w: 2, h: 2, runs: [1, 3] }), /cover 3 pixels/);
  assert.throws(() => decodeClassMap({ w: 2, h: 2, runs: [1, 5] }), /overflows/);
  assert.throws(() => decodeClassMap({ w: 2, h: 2, runs: [1, 0, 1, 4] }), /overflows/);
  assert.throws(() => decodeClassMap({ w: 2, h: 2, runs: [1, 4, 7] }), RangeError);
});
