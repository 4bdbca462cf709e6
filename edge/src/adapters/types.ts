/** The contract every detection adapter implements: raw output tensors in, source-pixel detections out. */
import type { AdapterType, Detection } from '@sightline/shared';
import type { Geometry } from '../preprocess/geometry.ts';

/** One output tensor as ONNX Runtime returns it (or as it arrives from a worker). */
export interface OutputTensor {
  data: Float32Array;
  dims: readonly number[];
}

/** Output tensors by name. */
export type OutputMap = Readonly<Record<string, OutputTensor>>;

/** Thresholds applied while decoding. */
export interface DecodeOptions {
  /** Minimum score kept, 0..1. */
  confidence: number;
  /** IoU above which NMS suppresses a same-class box, 0..1. */
  iou: number;
  /** Keep only these class labels. Default: all classes. */
  classes?: readonly string[];
  /** Keep at most this many detections per frame, best first. Default 300. */
  maxDetections?: number;
}

/** Decodes one model's outputs. */
export interface DetectionAdapter {
  readonly type: AdapterType;
  /** Detections of frame `batchIndex` of the batch, in the source pixels described by `geometry`, best first. */
  decode(outputs: OutputMap, batchIndex: number, geometry: Geometry, options: DecodeOptions): Detection[];
}
