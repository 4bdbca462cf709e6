/** Synthetic re-ID-like embeddings for tests and benchmarks: identity clusters, several noisy views each. */

/** Options of {@link identityClusters}. */
export interface ClusterOptions {
  /** Number of identities. */
  identities: number;
  /** Views per identity. */
  views: number;
  /** Embedding length; default 512. */
  dims?: number;
  /** Noise norm relative to the unit centre; default 0.37 (same-identity cosine about 0.88, OSNet's 0.887). */
  noise?: number;
  /** Weight of a direction shared by every identity; default 1 (different-identity cosine about 0.44, OSNet's 0.452). */
  shared?: number;
  /** PRNG seed; default 1. */
  seed?: number;
}

/** Row-major unit vectors, `identity[i]` the identity of row i. */
export interface ClusterData {
  vectors: Float32Array;
  identity: Int32Array;
  dims: number;
  /** A fresh view of identity `id` (same centre, new noise): a query not in the data. */
  view(id: number): Float32Array;
}

/**
 * Identity clusters shaped like OSNet embeddings: centre_i = normalise(shared * s + r_i) with s, r_i random
 * unit vectors, and each view = normalise(centre_i + noise * g / |g|) with g gaussian.
 */
export function identityClusters(o: ClusterOptions): ClusterData {
  const dims = o.dims ?? 512;
  const noise = o.noise ?? 0.37;
  const shared = o.shared ?? 1;
  const rand = gaussian(o.seed ?? 1);
  const common = unit(dims, rand);
  const centres = new Float32Array(o.identities * dims);
  for (let i = 0; i < o.identities; i++) {
    const r = unit(dims, rand);
    for (let d = 0; d < dims; d++) r[d] = r[d]! + shared * common[d]!;
    centres.set(normalise(r), i * dims);
  }
  const view = (id: number) => {
    const g = unit(dims, rand);
    const v = new Float32Array(dims);
    for (let d = 0; d < dims; d++) v[d] = centres[id * dims + d]! + noise * g[d]!;
    return normalise(v);
  };
  const n = o.identities * o.views;
  const vectors = new Float32Array(n * dims);
  const identity = new Int32Array(n);
  for (let i = 0; i < o.identities; i++) {
    for (let j = 0; j < o.views; j++) {
      const row = i * o.views + j;
      vectors.set(view(i), row * dims);
      identity[row] = i;
    }
  }
  return { vectors, identity, dims, view };
}

/** A seeded standard-normal generator (mulberry32 + Box-Muller). */
export function gaussian(seed: number): () => number {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const v = spare;
      spare = undefined;
      return v;
    }
    const u = 1 - uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    const a = 2 * Math.PI * uniform();
    spare = r * Math.sin(a);
    return r * Math.cos(a);
  };
}

function unit(dims: number, rand: () => number): Float32Array {
  const v = new Float32Array(dims);
  for (let d = 0; d < dims; d++) v[d] = rand();
  return normalise(v);
}

function normalise(v: Float32Array): Float32Array {
  let sq = 0;
  for (const x of v) sq += x * x;
  const s = 1 / Math.sqrt(sq);
  for (let d = 0; d < v.length; d++) v[d] = v[d]! * s;
  return v;
}
