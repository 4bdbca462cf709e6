/** Linear assignment (Hungarian / shortest augmenting path) on rectangular cost matrices with a cost limit. */

/** A rows x cols cost matrix, row-major. `Infinity` marks a pair that must never be matched. */
export interface CostMatrix {
  rows: number;
  cols: number;
  data: Float64Array;
}

/** The result of an assignment: matched [row, col] pairs and the rows and columns left unmatched (ascending). */
export interface Assignment {
  matches: [number, number][];
  unmatchedRows: number[];
  unmatchedCols: number[];
}

/** A cost matrix filled with `fill` (default Infinity). */
export function costMatrix(rows: number, cols: number, fill = Number.POSITIVE_INFINITY): CostMatrix {
  checkSize(rows, 'rows');
  checkSize(cols, 'cols');
  return { rows, cols, data: new Float64Array(rows * cols).fill(fill) };
}

/** A cost matrix from nested arrays (every row must have the same length). */
export function costMatrixFrom(values: readonly (readonly number[])[]): CostMatrix {
  const rows = values.length;
  const cols = values[0]?.length ?? 0;
  const m = costMatrix(rows, cols);
  values.forEach((row, i) => {
    if (row.length !== cols) {
      throw new RangeError(`Expected every row to have ${cols} costs but row ${i} has ${row.length}`);
    }
    m.data.set(row, i * cols);
  });
  return m;
}

/**
 * Minimum-cost partial assignment where a pair is matched only if its cost is at most `threshold`.
 *
 * It minimises  sum(matched costs) + threshold/2 * (unmatched rows + unmatched cols), the objective of
 * `lap.lapjv(cost, extend_cost=True, cost_limit=threshold)` used by SORT/ByteTrack: it maximises the total
 * of (threshold - cost) over matched pairs. Pairs costing more than the threshold (or Infinity/NaN) are never
 * matched; a pair costing exactly the threshold gains nothing and may go either way.
 * O(n^2 m) with n = min(rows, cols), after dropping rows and columns that have no admissible pair.
 */
export function linearAssignment(cost: CostMatrix, threshold: number): Assignment {
  const { rows, cols, data } = cost;
  checkSize(rows, 'rows');
  checkSize(cols, 'cols');
  if (data.length !== rows * cols) {
    throw new RangeError(
      `Expected ${rows * cols} costs for a ${rows}x${cols} matrix but received ${data.length}`,
    );
  }
  if (typeof threshold !== 'number' || Number.isNaN(threshold)) {
    throw new TypeError(
      `Expected a number for threshold but received ${threshold} of type ${typeof threshold}`,
    );
  }
  const ok = (c: number) => c <= threshold; // false for NaN
  // Keep only rows / columns with at least one admissible pair; the rest are unmatched anyway.
  const rowHas = new Uint8Array(rows);
  const colHas = new Uint8Array(cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      if (ok(data[i * cols + j] as number)) {
        rowHas[i] = 1;
        colHas[j] = 1;
      }
    }
  }
  const rIdx: number[] = [];
  const cIdx: number[] = [];
  for (let i = 0; i < rows; i++) if (rowHas[i]) rIdx.push(i);
  for (let j = 0; j < cols; j++) if (colHas[j]) cIdx.push(j);

  const matches: [number, number][] = [];
  if (rIdx.length > 0) {
    // Gain matrix: (cost - threshold) when admissible, 0 otherwise. A full assignment of the smaller side
    // minimising it, with the zero-gain pairs dropped, is an optimal partial assignment of the original.
    const transpose = rIdx.length > cIdx.length;
    const n = transpose ? cIdx.length : rIdx.length;
    const m = transpose ? rIdx.length : cIdx.length;
    const a = new Float64Array(n * m);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < m; j++) {
        const r = transpose ? (rIdx[j] as number) : (rIdx[i] as number);
        const c = transpose ? (cIdx[i] as number) : (cIdx[j] as number);
        const v = data[r * cols + c] as number;
        a[i * m + j] = ok(v) ? v - threshold : 0;
      }
    }
    const colOfRow = solveDense(a, n, m);
    for (let i = 0; i < n; i++) {
      const j = colOfRow[i] as number;
      const r = transpose ? (rIdx[j] as number) : (rIdx[i] as number);
      const c = transpose ? (cIdx[i] as number) : (cIdx[j] as number);
      if (ok(data[r * cols + c] as number)) matches.push([r, c]);
    }
    matches.sort((x, y) => x[0] - y[0]);
  }
  const rowUsed = new Uint8Array(rows);
  const colUsed = new Uint8Array(cols);
  for (const [r, c] of matches) {
    rowUsed[r] = 1;
    colUsed[c] = 1;
  }
  const unmatchedRows: number[] = [];
  const unmatchedCols: number[] = [];
  for (let i = 0; i < rows; i++) if (!rowUsed[i]) unmatchedRows.push(i);
  for (let j = 0; j < cols; j++) if (!colUsed[j]) unmatchedCols.push(j);
  return { matches, unmatchedRows, unmatchedCols };
}

/**
 * Full minimum-cost assignment of n rows into m >= n columns (finite costs), by successive shortest
 * augmenting paths with potentials (the Hungarian algorithm in its Jonker-Volgenant form).
 * Returns the column of each row.
 */
function solveDense(a: Float64Array, n: number, m: number): Int32Array {
  const INF = Number.POSITIVE_INFINITY;
  const u = new Float64Array(n + 1);
  const v = new Float64Array(m + 1);
  const p = new Int32Array(m + 1); // p[j] = row (1-based) assigned to column j, 0 = none
  const way = new Int32Array(m + 1);
  const minv = new Float64Array(m + 1);
  const used = new Uint8Array(m + 1);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    minv.fill(INF);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = p[j0] as number;
      let delta = INF;
      let j1 = 0;
      const rowBase = (i0 - 1) * m;
      const ui0 = u[i0] as number;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const cur = (a[rowBase + j - 1] as number) - ui0 - (v[j] as number);
        if (cur < (minv[j] as number)) {
          minv[j] = cur;
          way[j] = j0;
        }
        if ((minv[j] as number) < delta) {
          delta = minv[j] as number;
          j1 = j;
        }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) {
          const r = p[j] as number;
          u[r] = (u[r] as number) + delta;
          v[j] = (v[j] as number) - delta;
        } else {
          minv[j] = (minv[j] as number) - delta;
        }
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0] as number;
      p[j0] = p[j1] as number;
      j0 = j1;
    } while (j0 !== 0);
  }
  const colOfRow = new Int32Array(n);
  for (let j = 1; j <= m; j++) {
    const r = p[j] as number;
    if (r > 0) colOfRow[r - 1] = j - 1;
  }
  return colOfRow;
}

function checkSize(value: number, name: string): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(
      `Expected a non-negative integer for ${name} but received ${value} of type ${typeof value}`,
    );
  }
}
