/** Input checks for embeddings and keys, shared by the index and its rebuild. */
import { IndexError } from '@sightline/shared';

/** usearch reserves the largest u64 as "no key". */
const MAX_KEY = (1n << 64n) - 2n;

/** Norms within this of 1 are taken as already normalised (float32 rounding of an L2-normalised vector). */
const NORM_TOLERANCE = 1e-3;

/**
 * One embedding checked and L2-normalised into `out` at `offset`: it must have `dims` finite values and a
 * non-zero norm (cosine is undefined for a zero vector). Unnormalised vectors are normalised, not rejected:
 * cosine ignores scale, and a gallery mean or a client's query is legitimately off unit length.
 */
export function normaliseInto(
  vector: ArrayLike<number>,
  dims: number,
  out: Float32Array,
  offset: number,
  what: string,
): void {
  if (vector.length !== dims) {
    throw new IndexError(`${what} has ${vector.length} dimensions, the index has ${dims}`);
  }
  let sq = 0;
  for (let i = 0; i < dims; i++) {
    const v = vector[i]!;
    if (!Number.isFinite(v)) throw new IndexError(`${what} has a non-finite value (${v}) at position ${i}`);
    sq += v * v;
  }
  if (sq === 0) throw new IndexError(`${what} is all zeros; cosine similarity is undefined for it`);
  const norm = Math.sqrt(sq);
  const scale = Math.abs(norm - 1) <= NORM_TOLERANCE ? 1 : 1 / norm;
  for (let i = 0; i < dims; i++) out[offset + i] = vector[i]! * scale;
}

/** Several embeddings (one flat n x dims array, or one array per vector) checked and normalised into a copy. */
export function normaliseMatrix(
  vectors: Float32Array | readonly ArrayLike<number>[],
  dims: number,
  what = 'vector',
): Float32Array {
  if (ArrayBuffer.isView(vectors)) {
    if (vectors.length % dims !== 0) {
      throw new IndexError(`${what}s: ${vectors.length} values is not a multiple of ${dims} dimensions`);
    }
    const n = vectors.length / dims;
    const out = new Float32Array(vectors.length);
    for (let i = 0; i < n; i++)
      normaliseInto(vectors.subarray(i * dims, (i + 1) * dims), dims, out, i * dims, `${what} ${i}`);
    return out;
  }
  const out = new Float32Array(vectors.length * dims);
  for (let i = 0; i < vectors.length; i++) normaliseInto(vectors[i]!, dims, out, i * dims, `${what} ${i}`);
  return out;
}

/** Keys as a BigUint64Array: unsigned 64-bit, below 2^64 - 1, no repeats. */
export function checkKeys(keys: BigUint64Array | readonly bigint[]): BigUint64Array {
  const out = new BigUint64Array(keys.length);
  const seen = new Set<bigint>();
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (typeof key !== 'bigint' || key < 0n || key > MAX_KEY) {
      throw new IndexError(`key ${i} (${String(key)}) must be a bigint in [0, 2^64 - 2]`);
    }
    if (seen.has(key)) throw new IndexError(`key ${key} appears twice in one add`);
    seen.add(key);
    out[i] = key;
  }
  return out;
}
