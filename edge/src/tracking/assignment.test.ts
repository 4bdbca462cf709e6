import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type CostMatrix, costMatrix, costMatrixFrom, linearAssignment } from './assignment.ts';

const INF = Number.POSITIVE_INFINITY;

/** The objective linearAssignment minimises: matched costs + threshold/2 per unmatched row and column. */
function objective(m: CostMatrix, pairs: [number, number][], threshold: number): number {
  let s = 0;
  for (const [r, c] of pairs) s += m.data[r * m.cols + c] as number;
  return s + (threshold / 2) * (m.rows + m.cols - 2 * pairs.length);
}

/** Every partial matching using only pairs with cost <= threshold; returns the best objective. */
function bruteForce(m: CostMatrix, threshold: number): number {
  let best = INF;
  const usedCols = new Uint8Array(m.cols);
  const pairs: [number, number][] = [];
  const rec = (r: number) => {
    if (r === m.rows) {
      best = Math.min(best, objective(m, pairs, threshold));
      return;
    }
    rec(r + 1);
    for (let c = 0; c < m.cols; c++) {
      if (usedCols[c] || !((m.data[r * m.cols + c] as number) <= threshold)) continue;
      usedCols[c] = 1;
      pairs.push([r, c]);
      rec(r + 1);
      pairs.pop();
      usedCols[c] = 0;
    }
  };
  rec(0);
  return best;
}

/** A small deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function checkConsistent(m: CostMatrix, a: ReturnType<typeof linearAssignment>): void {
  const rows = new Set(a.matches.map((p) => p[0]));
  const cols = new Set(a.matches.map((p) => p[1]));
  assert.equal(rows.size, a.matches.length, 'rows used once');
  assert.equal(cols.size, a.matches.length, 'cols used once');
  assert.equal(a.matches.length + a.unmatchedRows.length, m.rows);
  assert.equal(a.matches.length + a.unmatchedCols.length, m.cols);
  for (const r of a.unmatchedRows) assert.ok(!rows.has(r));
  for (const c of a.unmatchedCols) assert.ok(!cols.has(c));
}

describe('linearAssignment', () => {
  test('solves a known square matrix', () => {
    const m = costMatrixFrom([
      [4, 1, 3],
      [2, 0, 5],
      [3, 2, 2],
    ]);
    const a = linearAssignment(m, 100);
    assert.deepEqual(a.matches, [
      [0, 1],
      [1, 0],
      [2, 2],
    ]);
    assert.deepEqual(a.unmatchedRows, []);
    assert.deepEqual(a.unmatchedCols, []);
  });

  test('solves wide and tall rectangular matrices', () => {
    const wide = costMatrixFrom([
      [9, 1, 9, 9],
      [9, 9, 9, 2],
    ]);
    assert.deepEqual(linearAssignment(wide, 5), {
      matches: [
        [0, 1],
        [1, 3],
      ],
      unmatchedRows: [],
      unmatchedCols: [0, 2],
    });
    const tall = costMatrixFrom([[0.9], [0.1], [0.5]]);
    assert.deepEqual(linearAssignment(tall, 0.8), {
      matches: [[1, 0]],
      unmatchedRows: [0, 2],
      unmatchedCols: [],
    });
  });

  test('pairs above the threshold stay unmatched', () => {
    const m = costMatrixFrom([
      [0.9, 0.95],
      [0.85, 0.99],
    ]);
    assert.deepEqual(linearAssignment(m, 0.8), { matches: [], unmatchedRows: [0, 1], unmatchedCols: [0, 1] });
    const mixed = costMatrixFrom([
      [0.1, 0.9],
      [0.2, 0.95],
    ]);
    // Row 1 cannot take col 1 (0.95 > 0.8), so only one of rows 0/1 gets col 0; row 0 is cheaper.
    assert.deepEqual(linearAssignment(mixed, 0.8).matches, [[0, 0]]);
  });

  test('prefers two good matches over one excellent one when the sum is better (lapjv cost_limit)', () => {
    // Matching (0,0) alone: 0 + 2 unmatched * 0.5 = 1.0; matching (0,1),(1,0): 0.4 + 0.4 = 0.8.
    const m = costMatrixFrom([
      [0.0, 0.4],
      [0.4, INF],
    ]);
    assert.deepEqual(linearAssignment(m, 1).matches, [
      [0, 1],
      [1, 0],
    ]);
  });

  test('Infinity and NaN costs are never matched', () => {
    const m = costMatrixFrom([
      [INF, 0.3],
      [Number.NaN, INF],
    ]);
    const a = linearAssignment(m, 10);
    assert.deepEqual(a.matches, [[0, 1]]);
    assert.deepEqual(a.unmatchedRows, [1]);
    assert.deepEqual(a.unmatchedCols, [0]);
  });

  test('handles empty matrices', () => {
    assert.deepEqual(linearAssignment(costMatrix(0, 0), 1), {
      matches: [],
      unmatchedRows: [],
      unmatchedCols: [],
    });
    assert.deepEqual(linearAssignment(costMatrix(0, 3), 1), {
      matches: [],
      unmatchedRows: [],
      unmatchedCols: [0, 1, 2],
    });
    assert.deepEqual(linearAssignment(costMatrix(2, 0), 1), {
      matches: [],
      unmatchedRows: [0, 1],
      unmatchedCols: [],
    });
  });

  test('rejects malformed input', () => {
    assert.throws(
      () => linearAssignment({ rows: 2, cols: 2, data: new Float64Array(3) }, 1),
      /Expected 4 costs/,
    );
    assert.throws(
      () => linearAssignment({ rows: -1, cols: 2, data: new Float64Array(0) }, 1),
      /non-negative integer for rows/,
    );
    assert.throws(() => linearAssignment(costMatrix(1, 1, 0), Number.NaN), TypeError);
    assert.throws(() => costMatrixFrom([[1, 2], [3]]), /row 1 has 1/);
  });

  test('matches brute force on random small matrices', () => {
    const rand = rng(12345);
    for (let iter = 0; iter < 400; iter++) {
      const rows = Math.floor(rand() * 6);
      const cols = Math.floor(rand() * 6);
      const m = costMatrix(rows, cols);
      for (let k = 0; k < m.data.length; k++) {
        const u = rand();
        m.data[k] = u < 0.15 ? INF : Math.round(rand() * 100) / 100;
      }
      const threshold = 0.2 + rand() * 0.8;
      const a = linearAssignment(m, threshold);
      checkConsistent(m, a);
      for (const [r, c] of a.matches) assert.ok((m.data[r * cols + c] as number) <= threshold);
      const got = objective(m, a.matches, threshold);
      const want = bruteForce(m, threshold);
      assert.ok(
        Math.abs(got - want) < 1e-9,
        `iter ${iter} ${rows}x${cols}: objective ${got} vs brute force ${want}`,
      );
    }
  });

  test('solves a 300x300 matrix quickly', () => {
    const rand = rng(7);
    const m = costMatrix(300, 300);
    for (let k = 0; k < m.data.length; k++) m.data[k] = rand();
    const t0 = performance.now();
    const a = linearAssignment(m, 0.5);
    const ms = performance.now() - t0;
    checkConsistent(m, a);
    assert.ok(a.matches.length > 250, `matched ${a.matches.length}`);
    assert.ok(ms < 2000, `took ${ms} ms`);
  });
});
