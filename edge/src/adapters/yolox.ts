/** YOLOX head decoder: output [batch, anchors, 5 + classes] with grid/stride boxes and score = objectness x class. */
import type { AdapterType, Detection, ModelEntry } from '@sightline/shared';
import { ModelError } from '@sightline/shared/errors';
import type { Geometry } from '../preprocess/geometry.ts';
import { anchorCount, ClassFilter, checkBatchIndex, getOutput, toDetections } from './common.ts';
import { Candidates, nms } from './nms.ts';
import type { DecodeOptions, DetectionAdapter, OutputMap } from './types.ts';

const STRIDES = [8, 16, 32] as const;

export class YoloxAdapter implements DetectionAdapter {
  readonly type: AdapterType = 'yolox';
  readonly #outputName: string;
  readonly #modelId: string;
  readonly #filter: ClassFilter;
  readonly #candidates = new Candidates();

  constructor(entry: Pick<ModelEntry, 'id' | 'outputs'>, labels: readonly string[]) {
    this.#modelId = entry.id;
    this.#outputName = entry.outputs[0]!.name;
    this.#filter = new ClassFilter(labels);
  }

  decode(outputs: OutputMap, batchIndex: number, g: Geometry, options: DecodeOptions): Detection[] {
    const t = getOutput(outputs, this.#outputName, 3, this.#modelId);
    const [batch, anchors, width] = t.dims as [number, number, number];
    checkBatchIndex(batchIndex, batch);
    const expected = anchorCount(g.inputWidth, g.inputHeight, STRIDES);
    if (anchors !== expected || width < 6) {
      throw new ModelError(
        'MODEL_INVALID',
        `Model ${this.#modelId} output "${this.#outputName}" has dims [${t.dims.join(',')}]; a YOLOX head for ` +
          `${g.inputWidth}x${g.inputHeight} needs [${batch},${expected},5+classes]`,
      );
    }
    const numClasses = width - 5;
    const mask = this.#filter.mask(options.classes, numClasses);
    const conf = options.confidence;
    const data = t.data;
    const c = this.#candidates;
    c.reset();
    let row = batchIndex * anchors * width;
    for (const stride of STRIDES) {
      const gw = Math.floor(g.inputWidth / stride);
      const gh = Math.floor(g.inputHeight / stride);
      for (let gy = 0; gy < gh; gy++) {
        for (let gx = 0; gx < gw; gx++, row += width) {
          const obj = data[row + 4]!;
          if (obj < conf) continue; // score = obj * cls <= obj
          let best = -1;
          let bestScore = 0;
          for (let k = 0; k < numClasses; k++) {
            const s = data[row + 5 + k]!;
            if (s > bestScore && (mask === null || mask[k] === 1)) {
              bestScore = s;
              best = k;
            }
          }
          const score = obj * bestScore;
          if (best < 0 || score < conf) continue;
          const cx = (data[row]! + gx) * stride;
          const cy = (data[row + 1]! + gy) * stride;
          const hw = (Math.exp(data[row + 2]!) * stride) / 2;
          const hh = (Math.exp(data[row + 3]!) * stride) / 2;
          c.push(cx - hw, cy - hh, cx + hw, cy + hh, score, best);
        }
      }
    }
    const kept = nms(c, { iou: options.iou, confidence: conf, maxDetections: options.maxDetections });
    return toDetections(c, kept, g, this.#filter);
  }
}
