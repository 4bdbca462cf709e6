/** Messages between the inference pool (main thread) and its session workers. */
import type {
  ClassArea,
  ClassLabel,
  Detection,
  ExecutionProvider,
  InferenceConfig,
  ModelEntry,
  SightlineError,
} from '@sightline/shared';
import { InferenceError, ModelError } from '@sightline/shared/errors';
import type { MapRegion } from '../adapters/segmentation.ts';
import type { DecodeOptions } from '../adapters/types.ts';
import type { ImageBuffer } from '../frame.ts';
import type { Geometry } from '../preprocess/geometry.ts';
import type { SkippedProvider } from './providers.ts';

/** What a worker is started with. */
export interface WorkerInit {
  index: number;
  modelPath: string;
  entry: ModelEntry;
  labels: readonly string[];
  config: InferenceConfig;
  /** Largest batch this worker accepts. */
  maxBatch: number;
}

/** Pixels of one frame as sent to a worker (the buffer is transferred, not copied). */
export interface FramePixels {
  data: Uint8Array;
  width: number;
  height: number;
  sourceWidth: number;
  sourceHeight: number;
}

/** One frame's output. */
export interface InferResult {
  detections: Detection[];
  /** How model coordinates map to this frame's source pixels. */
  geometry: Geometry;
  /** Per-frame share of the batch's stage times, in ms. */
  preprocessMs: number;
  inferMs: number;
  postprocessMs: number;
  /** Frames in the batch this frame ran in. */
  batchSize: number;
  /** Index of the session that ran it. */
  session: number;
}

/** Embeddings of one embed request (re-ID models). */
export interface EmbedResult {
  /** One L2-normalised embedding per crop, in order. */
  embeddings: Float32Array[];
  /** Stage times of the whole request, in ms. */
  preprocessMs: number;
  inferMs: number;
}

/** Classes of one classify request (classification models). */
export interface ClassifyResult {
  /** `labels[i]` holds the top-k classes of image i, best first (softmax scores). */
  labels: ClassLabel[][];
  /** Stage times of the whole request, in ms (decoding counts as inference). */
  preprocessMs: number;
  inferMs: number;
}

/** One frame's semantic segmentation (segmentation models such as DeepLab). */
export interface SegmentResult {
  /** Class id per map pixel (the model's output resolution), row-major, `width` x `height`. */
  classMap: Uint8Array;
  width: number;
  height: number;
  /** Each present class's share of the image (letterbox padding excluded), largest first. */
  classes: ClassArea[];
  /** How model-input pixels map to this frame's source pixels. */
  geometry: Geometry;
  /** The map pixels that hold the image; the rest is padding. */
  region: MapRegion;
  /** Per-frame share of its batch's stage times, in ms. */
  preprocessMs: number;
  inferMs: number;
  postprocessMs: number;
}

/** Pixels of one image as sent to a worker: packed BGR24, with the source size it stands for when known. */
export interface ImagePixels extends ImageBuffer {
  sourceWidth?: number;
  sourceHeight?: number;
}

export type ToWorker =
  | { type: 'infer'; id: number; frames: FramePixels[]; decode: DecodeOptions }
  /** Re-ID models: embed these packed BGR24 crops (buffers transferred). */
  | { type: 'embed'; id: number; crops: ImageBuffer[] }
  /** Classification models: the top `topK` classes of each image (buffers transferred). */
  | { type: 'classify'; id: number; images: ImagePixels[]; topK: number }
  /** Semantic-segmentation models: a class map per frame (buffers transferred). */
  | { type: 'segment'; id: number; frames: ImagePixels[] }
  /** Finish the run in progress, answer nothing more, release the session and end the thread. */
  | { type: 'close' };

export interface WireError {
  name: string;
  code?: string;
  message: string;
}

export type FromWorker =
  | { type: 'ready'; provider: ExecutionProvider; skipped: SkippedProvider[]; kernels?: string }
  | { type: 'fatal'; error: WireError }
  | { type: 'result'; id: number; results: InferResult[] }
  | { type: 'embedded'; id: number; result: EmbedResult }
  | { type: 'classified'; id: number; result: ClassifyResult }
  /** The class maps' buffers are transferred. */
  | { type: 'segmented'; id: number; results: SegmentResult[] }
  | { type: 'error'; id: number; error: WireError }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; data: Record<string, unknown>; message: string };

export function toWire(err: unknown): WireError {
  if (err instanceof Error) {
    const code = (err as Partial<SightlineError>).code;
    return { name: err.name, message: err.message, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { name: 'Error', message: String(err) };
}

/** Rebuild a worker's error as the matching shared error class (model problems stay ModelError). */
export function fromWire(e: WireError, context: string): SightlineError {
  if (e.code?.startsWith('MODEL_')) return new ModelError(e.code as 'MODEL_INVALID', e.message);
  if (e.code === 'PROVIDER_UNAVAILABLE') return new InferenceError('PROVIDER_UNAVAILABLE', e.message);
  return new InferenceError('INFERENCE_FAILED', `${context}: ${e.message}`);
}
