/** Schema of models/manifest.json: what a model is, where it comes from and how to feed it. */
import { z } from 'zod';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters');

/** How pixels become the input tensor. */
export const PreprocessSpec = z.strictObject({
  /** letterbox keeps aspect ratio and pads; crop resizes the short side then centre-crops; stretch ignores aspect. */
  resize: z.enum(['letterbox', 'crop', 'stretch']),
  /** Where the letterboxed image sits: centred (YOLOv8) or in the top-left corner (YOLOX). Default centre. */
  align: z.enum(['center', 'top-left']).default('center'),
  /** Pad value for letterbox borders, 0..255. Default 114. */
  padValue: z.number().min(0).max(255).default(114),
  /** For crop: short side is resized to this many pixels before the centre crop. */
  resizeShort: z.number().int().positive().optional(),
  /** Tensor layout. */
  layout: z.enum(['NCHW', 'NHWC']),
  /** Channel order the model expects; Y = one channel, the luma of BT.601 YCbCr (super-resolution). */
  colour: z.enum(['RGB', 'BGR', 'Y']),
  /** value = (pixel * scale - mean[c]) / std[c]; defaults scale 1, mean 0, std 1. */
  scale: z.number().positive().default(1),
  mean: z.tuple([z.number(), z.number(), z.number()]).default([0, 0, 0]),
  std: z.tuple([z.number(), z.number(), z.number()]).default([1, 1, 1]),
});
export type PreprocessSpec = z.infer<typeof PreprocessSpec>;

export const TensorSpec = z.strictObject({
  name: z.string().min(1),
  /** Dimensions; -1 marks a dynamic one (batch). */
  shape: z.array(z.number().int()),
});
export type TensorSpec = z.infer<typeof TensorSpec>;

export const ModelTask = z.enum(['detection', 'segmentation', 'classification', 'reid', 'super-resolution']);
export type ModelTask = z.infer<typeof ModelTask>;

/** Output decoders shipped with the edge. */
export const AdapterType = z.enum([
  'yolox',
  'yolov8',
  'yolov8-seg',
  'classifier',
  'embedding',
  'deeplab',
  'espcn',
]);
export type AdapterType = z.infer<typeof AdapterType>;

export const ModelEntry = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, 'lowercase letters, digits, _ . -'),
  task: ModelTask,
  adapter: AdapterType,
  file: z.string().min(1),
  /** Upstream download URL used by `sightline models fetch`. */
  url: z.url(),
  sha256,
  bytes: z.number().int().positive(),
  licence: z.string().min(1),
  /** Human-readable provenance. */
  source: z.string().min(1),
  input: TensorSpec,
  outputs: z.array(TensorSpec).min(1),
  preprocess: PreprocessSpec,
  /** Label list: "coco80", "voc21", or a file id in the manifest's `files`. */
  labels: z.string().optional(),
  /** Largest batch the model accepts; 1 for a static batch. */
  maxBatch: z.number().int().positive(),
  /**
   * The file declares a fixed batch but every operator works image by image, so loaders can make its batch dynamic
   * (edge/src/inference/dynamic-batch.ts; a test proves the batched outputs equal batch 1's). Default false.
   */
  batchAgnostic: z.boolean().optional(),
  notes: z.string().optional(),
});
export type ModelEntry = z.infer<typeof ModelEntry>;

/** A non-model file (label list, sample video) with the same fetch + verify contract. */
export const AssetEntry = z.strictObject({
  id: z.string().min(1),
  file: z.string().min(1),
  url: z.url(),
  sha256,
  bytes: z.number().int().positive(),
  licence: z.string().min(1),
  source: z.string().min(1),
  notes: z.string().optional(),
});
export type AssetEntry = z.infer<typeof AssetEntry>;

export const Manifest = z.strictObject({
  version: z.literal(1),
  /** Model used when none is named. */
  defaultModel: z.string(),
  /** Sample video: what `edge run` examples and tests use first, and the demo's first stream. */
  defaultMedia: z.string(),
  /** The demo's streams (media ids), so that "where else was this person seen" spans streams. Default [defaultMedia]. */
  demoMedia: z.array(z.string()).min(1).optional(),
  /** Re-ID model the demo computes appearance embeddings with (search by person). Default none. */
  demoReidModel: z.string().optional(),
  models: z.array(ModelEntry).min(1),
  /** Label lists and other model-side files. */
  files: z.array(AssetEntry).default([]),
  /** Sample media for the demo and benchmarks. */
  media: z.array(AssetEntry).default([]),
});
export type Manifest = z.infer<typeof Manifest>;
