/** YOLOv8 head decoder: output [batch, 4 + classes, anchors] (cx, cy, w, h, class scores), no objectness. */
import type { AdapterType, Detection, ModelEntry } from '@sightline/shared';
import { ModelError } from '@sightline/shared/errors';
import type { Geometry } from '../preprocess/geometry.ts';
import { anchorCount, ClassFilter, checkBatchIndex, getOutput, toDetections } from './common.ts';
import { Candidates, nms } from './nms.ts';
import type { DecodeOptions, DetectionAdapter, OutputMap } from './types.ts';

export class Yolov8Adapter implements DetectionAdapter {
  readonly type: AdapterType = 'yolov8';
  readonly #outputName: string;
  readonly #modelId: string;
  readonly #filter: ClassFilter;
  readonly #candidates = new Candidates();
  #best = new Float32Array(0);
  #bestClass = new Int32Array(0);

  constructor(entry: Pick<ModelEntry, 'id' | 'outputs'>, labels: readonly string[]) {
    this.#modelId = entry.id;
    this.#outputName = entry.outputs[0]!.name;
    this.#filter = new ClassFilter(labels);
  }

  decode(outputs: OutputMap, batchIndex: number, g: Geometry, options: DecodeOptions): Detection[] {
    const t = getOutput(outputs, this.#outputName, 3, this.#modelId);
    const [batch, channels, anchors] = t.dims as [number, number, number];
    checkBatchIndex(batchIndex, batch);
    const expected = anchorCount(g.inputWidth, g.inputHeight);
    if (anchors !== expected || channels < 5) {
      throw new ModelError(
        'MODEL_INVALID',
        `Model ${this.#modelId} output "${this.#outputName}" has dims [${t.dims.join(',')}]; a YOLOv8 head for ` +
          `${g.inputWidth}x${g.inputHeight} needs [${batch},4+classes,${expected}]`,
      );
    }
    const numClasses = channels - 4;
    const mask = this.#filter.mask(options.classes, numClasses);
    if (this.#best.length < anchors) {
      this.#best = new Float32Array(anchors);
      this.#bestClass = new Int32Array(anchors);
    }
    const best = this.#best;
    const bestClass = this.#bestClass;
    best.fill(-1, 0, anchors);
    bestClass.fill(-1, 0, anchors);
    const data = t.data;
    const base = batchIndex * channels * anchors;
    // Class-major scan keeps memory access contiguous.
    for (let k = 0; k < numClasses; k++) {
      if (mask !== null && mask[k] !== 1) continue;
      const plane = base + (4 + k) * anchors;
      for (let i = 0; i < anchors; i++) {
        const s = data[plane + i]!;
        if (s > best[i]!) {
          best[i] = s;
          bestClass[i] = k;
        }
      }
    }
    const conf = options.confidence;
    const c = this.#candidates;
    c.reset();
    for (let i = 0; i < anchors; i++) {
      const s = best[i]!;
      if (s < conf || bestClass[i]! < 0) continue;
      const cx = data[base + i]!;
      const cy = data[base + anchors + i]!;
      const hw = data[base + 2 * anchors + i]! / 2;
      const hh = data[base + 3 * anchors + i]! / 2;
      c.push(cx - hw, cy - hh, cx + hw, cy + hh, s, bestClass[i]!);
    }
    const kept = nms(c, { iou: options.iou, confidence: conf, maxDetections: options.maxDetections });
    return toDetections(c, kept, g, this.#filter);
  }
}
