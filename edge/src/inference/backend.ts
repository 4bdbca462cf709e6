/**
 * The inference seam: "run this model on these prepared inputs, give me decoded results". The local worker pool
 * (InferencePool) implements it; another backend (e.g. batches sent to remote GPU workers) can too, and the
 * pipeline takes it through an InferenceBackendFactory without changing.
 */
import type { ExecutionProvider, InferenceConfig, InferenceError, ModelEntry } from '@sightline/shared';
import type { z } from 'zod';
import type { DecodeOptions } from '../adapters/types.ts';
import type { DecodedFrame, ImageBuffer } from '../frame.ts';
import type { ClassifyResult, EmbedResult, InferResult, SegmentResult } from './protocol.ts';

/** Logger subset a backend uses (a pino logger fits). */
export interface PoolLogger {
  info(data: Record<string, unknown>, message: string): void;
  warn(data: Record<string, unknown>, message: string): void;
  error(data: Record<string, unknown>, message: string): void;
}

/** What a backend is started with: one model, its labels, the inference settings and default thresholds. */
export interface InferenceBackendOptions {
  /** The manifest entry of the model. */
  model: ModelEntry;
  /** Path of the .onnx file. */
  modelPath: string;
  /** Class labels in output order. */
  labels: readonly string[];
  /** Providers, sessions, threads, batching. Default: InferenceConfig defaults (cpu, 2 sessions x 1 thread). */
  inference?: z.input<typeof InferenceConfig>;
  /** Default decode thresholds. Default confidence 0.5, iou 0.45, all classes. */
  detector?: { confidence: number; iou: number; classes?: readonly string[] };
  /** Where fallbacks and crashes are logged. Default childLogger('inference'). */
  logger?: PoolLogger;
}

/** Events every backend emits. */
export type InferenceBackendEvents = {
  /** A request finished or capacity came back: `freeSlots` requests can be sent without queueing. */
  slot: [freeSlots: number];
  /** The backend failed for good: queued and later calls reject with this error. */
  failed: [error: InferenceError];
};

/**
 * One model, run somewhere: frames in, detections out (or crops in, embeddings out for re-ID models; images in,
 * classes out for classifiers; frames in, class maps out for semantic segmentation).
 */
export interface InferenceBackend {
  /** The execution provider the model runs on ('none' before any session is ready). */
  readonly provider: ExecutionProvider | 'none';
  /** Largest batch one infer() or embed() call may carry. */
  readonly maxBatch: number;
  /** Model input size, so sources can pre-scale frames to it. */
  readonly inputSize: { width: number; height: number };
  /** Requests that can be sent now without queueing. */
  readonly freeSlots: number;
  /**
   * Largest batch the next infer() can take without queueing, when it is less than maxBatch (a backend made of
   * parts of different batch sizes). Default maxBatch.
   */
  readonly batchLimit?: number;
  readonly closed: boolean;
  /**
   * Detect objects in up to `maxBatch` frames (their pixel buffers may be transferred: unusable afterwards).
   * Results come back in the order of `frames`.
   */
  infer(frames: readonly DecodedFrame[], options?: Partial<DecodeOptions>): Promise<InferResult[]>;
  /** Re-ID models: embed up to `maxBatch` packed BGR24 crops; L2-normalised embeddings in the order of `crops`. */
  embed(crops: readonly ImageBuffer[]): Promise<EmbedResult>;
  /**
   * Classification models (task "classification"): the top-k (default 5) classes of each packed BGR24 image (crops
   * or whole frames; buffers may be transferred), best first: `labels[i]` for `images[i]`. Optional: a backend
   * without it cannot run classifiers. The local pool takes any number, `maxBatch` per model call.
   */
  classify?(images: readonly ImageBuffer[], options?: { topK?: number }): Promise<ClassifyResult>;
  /**
   * Semantic-segmentation models (task "segmentation", adapter "deeplab"): a class map and per-class areas per
   * frame, in order (buffers may be transferred). Optional: a backend without it cannot run them. The local pool
   * takes any number, `maxBatch` per model call.
   */
  segment?(frames: readonly ImageBuffer[]): Promise<SegmentResult[]>;
  on<K extends keyof InferenceBackendEvents & string>(
    event: K,
    listener: (...args: InferenceBackendEvents[K]) => void,
  ): unknown;
  /** Reject pending and queued calls with ClosedError and release the model. Safe to call twice. */
  close(): Promise<void>;
}

/** Starts a backend for one model (the detector's, or re-ID's); rejects when the model cannot run. */
export type InferenceBackendFactory = (options: InferenceBackendOptions) => Promise<InferenceBackend>;
