/**
 * YOLOv8 head decoder: output [batch, 4 + classes, anchors] (cx, cy, w, h, class scores), no objectness.
 * YOLOv8-seg (adapter "yolov8-seg") adds 32 mask coefficients per anchor after the class scores and a second
 * output of prototypes [batch, 32, H/4, W/4]; each kept detection then carries its instance mask.
 */
import type { AdapterType, Box, Detection, ModelEntry } from '@sightline/shared';
import { ModelError } from '@sightline/shared/errors';
import type { Geometry } from '../preprocess/geometry.ts';
import { anchorCount, ClassFilter, checkBatchIndex, getOutput, toDetections } from './common.ts';
import { instanceMask } from './instance-mask.ts';
import { Candidates, nms } from './nms.ts';
import type { DecodeOptions, DetectionAdapter, OutputMap } from './types.ts';

export class Yolov8Adapter implements DetectionAdapter {
  readonly type: AdapterType;
  readonly #outputName: string;
  /** The prototypes output (yolov8-seg), else undefined. */
  readonly #protoName: string | undefined;
  readonly #modelId: string;
  readonly #filter: ClassFilter;
  readonly #candidates = new Candidates();
  #best = new Float32Array(0);
  #bestClass = new Int32Array(0);
  /** Anchor of each candidate (to find its mask coefficients). */
  #anchorOf: Int32Array = new Int32Array(0);

  constructor(entry: Pick<ModelEntry, 'id' | 'outputs' | 'adapter'>, labels: readonly string[]) {
    this.#modelId = entry.id;
    this.#outputName = entry.outputs[0]!.name;
    this.type = entry.adapter === 'yolov8-seg' ? 'yolov8-seg' : 'yolov8';
    if (this.type === 'yolov8-seg') {
      const protos = entry.outputs[1]?.name;
      if (!protos) {
        throw new ModelError(
          'MODEL_INVALID',
          `Model ${entry.id} is a yolov8-seg model but its manifest entry lists no prototypes output`,
        );
      }
      this.#protoName = protos;
    }
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
    const protos = this.#protoName ? getOutput(outputs, this.#protoName, 4, this.#modelId) : undefined;
    const maskChannels = protos ? protos.dims[1]! : 0;
    if (protos && (protos.dims[0] !== batch || channels < 5 + maskChannels)) {
      throw new ModelError(
        'MODEL_INVALID',
        `Model ${this.#modelId} prototypes "${this.#protoName}" [${protos.dims.join(',')}] do not fit its ` +
          `detections [${t.dims.join(',')}] (need [${batch},coefficients,h,w] and 4+classes+coefficients channels)`,
      );
    }
    const numClasses = channels - 4 - maskChannels;
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
      if (protos) {
        if (this.#anchorOf.length <= c.count) this.#anchorOf = grow(this.#anchorOf, c.count + 1);
        this.#anchorOf[c.count] = i;
      }
      c.push(cx - hw, cy - hh, cx + hw, cy + hh, s, bestClass[i]!);
    }
    const kept = nms(c, { iou: options.iou, confidence: conf, maxDetections: options.maxDetections });
    if (!protos) return toDetections(c, kept, g, this.#filter);
    const [, , ph, pw] = protos.dims as [number, number, number, number];
    const planes = {
      data: protos.data,
      offset: batchIndex * maskChannels * ph * pw,
      count: maskChannels,
      width: pw,
      height: ph,
    };
    const coefficients = new Float32Array(maskChannels);
    const detections: Detection[] = [];
    for (const k of kept) {
      const [det] = toDetections(c, [k], g, this.#filter);
      if (!det) continue; // empty once clipped to the frame
      const anchor = this.#anchorOf[k]!;
      for (let j = 0; j < maskChannels; j++)
        coefficients[j] = data[base + (4 + numClasses + j) * anchors + anchor]!;
      const b = k * 4;
      const box: Box = [c.boxes[b]!, c.boxes[b + 1]!, c.boxes[b + 2]!, c.boxes[b + 3]!];
      const m = instanceMask(planes, coefficients, box, g);
      if (m) det.mask = m;
      detections.push(det);
    }
    return detections;
  }
}

function grow(a: Int32Array, min: number): Int32Array {
  const next = new Int32Array(Math.max(min, a.length * 2, 256));
  next.set(a);
  return next;
}
