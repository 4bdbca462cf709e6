import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { iou, iouMatrix } from './iou.ts';

describe('iou', () => {
  test('identical boxes give 1', () => assert.equal(iou([10, 10, 50, 30], [10, 10, 50, 30]), 1));
  test('disjoint and touching boxes give 0', () => {
    assert.equal(iou([0, 0, 10, 10], [20, 20, 30, 30]), 0);
    assert.equal(iou([0, 0, 10, 10], [10, 0, 20, 10]), 0);
  });
  test('a contained box gives the area ratio', () =>
    assert.equal(iou([0, 0, 10, 10], [2, 2, 7, 7]), 25 / 100));
  test('half overlap gives 1/3', () =>
    assert.ok(Math.abs(iou([0, 0, 10, 10], [5, 0, 15, 10]) - 1 / 3) < 1e-12));
  test('zero-area boxes give 0, not NaN', () => {
    assert.equal(iou([5, 5, 5, 5], [5, 5, 5, 5]), 0);
    assert.equal(iou([0, 0, 10, 10], [5, 5, 5, 9]), 0);
  });
  test('iouMatrix is rows x cols and matches iou()', () => {
    const a: [number, number, number, number][] = [
      [0, 0, 10, 10],
      [20, 20, 30, 30],
    ];
    const b: [number, number, number, number][] = [
      [0, 0, 10, 10],
      [5, 0, 15, 10],
      [22, 22, 30, 30],
    ];
    const m = iouMatrix(a, b);
    assert.equal(m.rows, 2);
    assert.equal(m.cols, 3);
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 3; j++) assert.equal(m.data[i * 3 + j], iou(a[i]!, b[j]!));
    }
    assert.equal(iouMatrix([], b).data.length, 0);
  });
});
