/** Exact (brute-force) nearest neighbours by Float32 dot product: the ground truth for tests and benchmarks. */

/** The k best rows of one query, best first; `score` is the dot product (cosine for unit vectors). */
export interface ExactMatches {
  rows: Int32Array;
  scores: Float32Array;
}

/** Options of {@link exactSearch}. */
export interface ExactSearchOptions {
  /** Rows a query may return (e.g. a filter); default every row. */
  allow?: (row: number) => boolean;
  /** Queries scored together per pass over the data (cache blocking); default 16. */
  block?: number;
}

/**
 * The k rows of `data` (n x dims, row-major) with the largest dot product to each query in `queries`
 * (m x dims), best first. Vectors should be L2-normalised so the dot product is the cosine similarity.
 */
export function exactSearch(
  data: Float32Array,
  queries: Float32Array,
  dims: number,
  k: number,
  options: ExactSearchOptions = {},
): ExactMatches[] {
  if (!Number.isInteger(dims) || dims <= 0)
    throw new RangeError(`dims must be a positive integer, got ${dims}`);
  if (!Number.isInteger(k) || k <= 0) throw new RangeError(`k must be a positive integer, got ${k}`);
  if (data.length % dims !== 0 || queries.length % dims !== 0) {
    throw new RangeError(
      `data (${data.length}) and queries (${queries.length}) must be multiples of ${dims}`,
    );
  }
  const n = data.length / dims;
  const m = queries.length / dims;
  const block = Math.max(1, options.block ?? 16);
  const allow = options.allow;
  const out: ExactMatches[] = [];
  for (let q0 = 0; q0 < m; q0 += block) {
    const qn = Math.min(block, m - q0);
    const tops = Array.from({ length: qn }, () => new TopK(k));
    const scores = new Float64Array(qn);
    for (let r = 0; r < n; r++) {
      if (allow && !allow(r)) continue;
      const ro = r * dims;
      for (let j = 0; j < qn; j++) {
        const qo = (q0 + j) * dims;
        let s = 0;
        for (let d = 0; d < dims; d++) s += data[ro + d]! * queries[qo + d]!;
        scores[j] = s;
      }
      for (let j = 0; j < qn; j++) tops[j]!.push(r, scores[j]!);
    }
    for (const t of tops) out.push(t.result());
  }
  return out;
}

/** A bounded best-first list (insertion into a sorted array: cheap for the small k of a search). */
class TopK {
  private readonly rows: Int32Array;
  private readonly scores: Float64Array;
  private count = 0;
  constructor(private readonly k: number) {
    this.rows = new Int32Array(k);
    this.scores = new Float64Array(k);
  }
  push(row: number, score: number): void {
    if (this.count === this.k && score <= this.scores[this.k - 1]!) return;
    let i = this.count < this.k ? this.count++ : this.k - 1;
    while (i > 0 && this.scores[i - 1]! < score) {
      this.scores[i] = this.scores[i - 1]!;
      this.rows[i] = this.rows[i - 1]!;
      i--;
    }
    this.scores[i] = score;
    this.rows[i] = row;
  }
  result(): ExactMatches {
    return {
      rows: this.rows.slice(0, this.count),
      scores: Float32Array.from(this.scores.subarray(0, this.count)),
    };
  }
}
