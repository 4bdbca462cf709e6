/** Helpers shared by the detection adapters: tensor checks, class filters, and mapping kept boxes to source pixels. */
import type { Detection } from '@sightline/shared';
import { ConfigError, ModelError } from '@sightline/shared/errors';
import type { Geometry } from '../preprocess/geometry.ts';
import type { Candidates } from './nms.ts';
import type { OutputMap, OutputTensor } from './types.ts';

/** The named output, checked to be a float tensor of `rank` dimensions whose data length matches its dims. */
export function getOutput(outputs: OutputMap, name: string, rank: number, modelId: string): OutputTensor {
  const t = outputs[name];
  if (!t) {
    throw new ModelError(
      'MODEL_INVALID',
      `Model ${modelId} produced no output "${name}" (outputs: ${Object.keys(outputs).join(', ') || 'none'})`,
    );
  }
  if (!(t.data instanceof Float32Array)) {
    throw new ModelError('MODEL_INVALID', `Model ${modelId} output "${name}" is not a float32 tensor`);
  }
  const dims = t.dims;
  if (!Array.isArray(dims) || dims.length !== rank || dims.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new ModelError(
      'MODEL_INVALID',
      `Model ${modelId} output "${name}" has dims [${String(dims)}]; expected ${rank} positive dimensions`,
    );
  }
  const n = dims.reduce((a, b) => a * b, 1);
  if (t.data.length !== n) {
    throw new ModelError(
      'MODEL_INVALID',
      `Model ${modelId} output "${name}" has ${t.data.length} values but its dims [${dims.join(',')}] need ${n}`,
    );
  }
  return t;
}

/** Number of anchor points of a stride-8/16/32 detection head for an input of width x height. */
export function anchorCount(width: number, height: number, strides: readonly number[] = [8, 16, 32]): number {
  let n = 0;
  for (const s of strides) n += Math.floor(width / s) * Math.floor(height / s);
  return n;
}

export function checkBatchIndex(batchIndex: number, batch: number): void {
  if (!Number.isInteger(batchIndex) || batchIndex < 0 || batchIndex >= batch) {
    throw new RangeError(
      `Expected an integer in 0..${batch - 1} for batchIndex but received ${batchIndex} of type ${typeof batchIndex}`,
    );
  }
}

/** Resolves class-name filters to a per-class mask, remembering the last few lists. */
export class ClassFilter {
  readonly #labels: readonly string[];
  readonly #cache = new Map<string, Uint8Array | null>();

  constructor(labels: readonly string[]) {
    this.#labels = labels;
  }

  /** A mask with 1 for each allowed class id (numClasses long), or null for "all classes". */
  mask(classes: readonly string[] | undefined, numClasses: number): Uint8Array | null {
    if (!classes) return null;
    const key = `${numClasses}\u0000${classes.join('\u0000')}`;
    const hit = this.#cache.get(key);
    if (hit !== undefined) return hit;
    const mask = new Uint8Array(numClasses);
    const unknown: string[] = [];
    for (const name of classes) {
      const id = this.#labels.indexOf(name);
      if (id < 0 || id >= numClasses) unknown.push(name);
      else mask[id] = 1;
    }
    if (unknown.length) {
      throw new ConfigError('Unknown class labels in the detector filter', [
        `classes: ${unknown.map((u) => `"${u}"`).join(', ')} not among the model's labels`,
      ]);
    }
    if (this.#cache.size > 16) this.#cache.clear();
    this.#cache.set(key, mask);
    return mask;
  }

  label(classId: number): string {
    return this.#labels[classId] ?? `class${classId}`;
  }
}

/** Turn kept candidates (model-input pixels) into detections in source pixels, clipped to the frame. */
export function toDetections(
  c: Candidates,
  kept: readonly number[],
  g: Geometry,
  filter: ClassFilter,
): Detection[] {
  const out: Detection[] = [];
  const w = g.sourceWidth;
  const h = g.sourceHeight;
  for (const i of kept) {
    const b = i * 4;
    const x1 = clamp((c.boxes[b]! - g.offsetX) / g.scaleX, w);
    const y1 = clamp((c.boxes[b + 1]! - g.offsetY) / g.scaleY, h);
    const x2 = clamp((c.boxes[b + 2]! - g.offsetX) / g.scaleX, w);
    const y2 = clamp((c.boxes[b + 3]! - g.offsetY) / g.scaleY, h);
    if (x2 <= x1 || y2 <= y1) continue;
    const classId = c.classes[i]!;
    out.push({ box: [x1, y1, x2, y2], score: c.scores[i]!, classId, label: filter.label(classId) });
  }
  return out;
}

function clamp(v: number, max: number): number {
  return v < 0 ? 0 : Math.min(v, max);
}
