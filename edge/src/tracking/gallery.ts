/** A track's appearance gallery: its newest L2-normalised embeddings, bounded by a budget. */
import { l2Normalise } from '../vector.ts';

export { l2Normalise };

/** Bounded set of embeddings (the oldest is replaced when full) with cosine distance and a normalised mean. */
export class FeatureGallery {
  /** Most embeddings kept; adding one more forgets the oldest. */
  readonly budget: number;
  readonly #items: Float32Array[] = [];
  /** Ring position of the next write once the gallery is full. */
  #next = 0;
  #mean: Float32Array | undefined;

  constructor(budget: number) {
    if (!Number.isInteger(budget) || budget < 1) {
      throw new RangeError(`Expected a positive integer for budget but received ${budget}`);
    }
    this.budget = budget;
  }

  /** Number of embeddings held (at most `budget`). */
  get size(): number {
    return this.#items.length;
  }

  /** Add an L2-normalised embedding; the oldest goes when the budget is reached. Every embedding must have the same length. */
  add(embedding: Float32Array): void {
    const first = this.#items[0];
    if (first && first.length !== embedding.length) {
      throw new RangeError(
        `Expected an embedding of length ${first.length} but received ${embedding.length}`,
      );
    }
    if (this.#items.length < this.budget) this.#items.push(embedding);
    else {
      this.#items[this.#next] = embedding;
      this.#next = (this.#next + 1) % this.budget;
    }
    this.#mean = undefined;
  }

  /** Smallest cosine distance (1 - dot product) between `embedding` and the gallery; Infinity when empty. */
  distance(embedding: Float32Array): number {
    let best = Number.NEGATIVE_INFINITY;
    for (const item of this.#items) {
      const dot = dotProduct(item, embedding);
      if (dot > best) best = dot;
    }
    return this.#items.length ? 1 - best : Number.POSITIVE_INFINITY;
  }

  /** L2-normalised mean of the gallery (what a track reports as its embedding), a fresh copy; undefined when empty. */
  mean(): Float32Array | undefined {
    if (this.#mean || this.#items.length === 0) return this.#mean?.slice();
    const out = new Float32Array(this.#items[0]!.length);
    for (const item of this.#items) for (let i = 0; i < out.length; i++) out[i]! += item[i]!;
    this.#mean = l2Normalise(out);
    return this.#mean.slice();
  }
}

/** Dot product over the shorter length, four lanes at a time (the gallery's hot loop). */
function dotProduct(a: Float32Array, b: Float32Array): number {
  const n = Math.min(a.length, b.length);
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    s0 += a[i]! * b[i]!;
    s1 += a[i + 1]! * b[i + 1]!;
    s2 += a[i + 2]! * b[i + 2]!;
    s3 += a[i + 3]! * b[i + 3]!;
  }
  for (; i < n; i++) s0 += a[i]! * b[i]!;
  return s0 + s1 + s2 + s3;
}
