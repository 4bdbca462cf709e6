/** Classifier head decoder: output [batch, classes] logits -> softmax -> the top-k classes of one batch row. */
import type { AdapterType, ClassLabel, ModelEntry } from '@sightline/shared';
import { ModelError } from '@sightline/shared/errors';
import { checkBatchIndex, getOutput } from './common.ts';
import type { OutputMap } from './types.ts';

/** Options for ClassifierAdapter.decode. */
export interface ClassifyOptions {
  /** How many classes to return, best first (fewer when the model has fewer). Default 5. */
  topK?: number;
}

/** The adapters that give class scores per image: what createClassificationAdapter accepts. */
export const CLASSIFICATION_ADAPTERS: readonly string[] = ['classifier'];

/** Decodes an image classifier's logits. */
export class ClassifierAdapter {
  readonly type: AdapterType = 'classifier';
  readonly #outputName: string;
  readonly #modelId: string;
  readonly #labels: readonly string[];
  #probs = new Float64Array(0);

  constructor(entry: Pick<ModelEntry, 'id' | 'outputs'>, labels: readonly string[]) {
    this.#modelId = entry.id;
    this.#outputName = entry.outputs[0]!.name;
    this.#labels = labels;
  }

  /** The `topK` (default 5) most probable classes of batch row `batchIndex`, best first, scores by softmax. */
  decode(outputs: OutputMap, batchIndex: number, options: ClassifyOptions = {}): ClassLabel[] {
    const k = options.topK ?? 5;
    if (!Number.isInteger(k) || k <= 0) {
      throw new RangeError(`Expected a positive integer for topK but received ${k} of type ${typeof k}`);
    }
    const t = getOutput(outputs, this.#outputName, 2, this.#modelId);
    const [batch, classes] = t.dims as [number, number];
    checkBatchIndex(batchIndex, batch);
    if (this.#labels.length > 0 && this.#labels.length !== classes) {
      throw new ModelError(
        'MODEL_INVALID',
        `Model ${this.#modelId} output "${this.#outputName}" has dims [${t.dims.join(',')}]; its ` +
          `${this.#labels.length} labels need [${batch},${this.#labels.length}]`,
      );
    }
    if (this.#probs.length < classes) this.#probs = new Float64Array(classes);
    const p = this.#probs;
    if (!softmaxInto(t.data, batchIndex * classes, classes, p)) {
      throw new ModelError(
        'MODEL_INVALID',
        `Model ${this.#modelId} output "${this.#outputName}" row ${batchIndex} holds a logit that is not finite`,
      );
    }
    return topK(p, classes, k).map((classId) => ({
      classId,
      label: this.#labels[classId] ?? `class${classId}`,
      score: p[classId]!,
    }));
  }
}

/** A classifier decoder for `entry` (adapter "classifier") using `labels` (line i = class i) for class names. */
export function createClassificationAdapter(
  entry: Pick<ModelEntry, 'id' | 'adapter' | 'outputs'>,
  labels: readonly string[],
): ClassifierAdapter {
  if (entry.adapter !== 'classifier') {
    throw new ModelError(
      'MODEL_INVALID',
      `Model ${entry.id} uses adapter "${entry.adapter}", which is not a classification adapter (${CLASSIFICATION_ADAPTERS.join(', ')})`,
    );
  }
  return new ClassifierAdapter(entry, labels);
}

/** Softmax of `n` logits from `data[start]` into `out[0..n)` (shifted by the maximum); false if one is not finite. */
export function softmaxInto(data: Float32Array, start: number, n: number, out: Float64Array): boolean {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const v = data[start + i]!;
    if (!Number.isFinite(v)) return false;
    if (v > max) max = v;
  }
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp(data[start + i]! - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < n; i++) out[i]! /= sum;
  return true;
}

/** Indices of the `k` largest of `values[0..n)`, largest first; ties go to the lower index. */
export function topK(values: ArrayLike<number>, n: number, k: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (best.length === k && v <= values[best[k - 1]!]!) continue;
    let j = best.length < k ? best.length : k - 1;
    for (; j > 0 && values[best[j - 1]!]! < v; j--) best[j] = best[j - 1]!;
    best[j] = i;
  }
  return best;
}
