/**
 * Model stages beyond the detector (docs/stages.md): their settings (one per edge, so that every stream's frames
 * share each model's batches) and the per-stream stage list, e.g. `detect -> classify -> reid`.
 */
import { z } from 'zod';

/**
 * Stages a stream can run. enhance cleans the decoded pixels first; detect finds objects; classify labels crops (or
 * whole frames); segment labels pixels; reid embeds crops.
 */
export const StageName = z.enum(['enhance', 'detect', 'classify', 'segment', 'reid']);
export type StageName = z.infer<typeof StageName>;

export const ClassifyConfig = z.strictObject({
  /** Classification model from the catalogue (task "classification"). Default mobilenetv2_int8. */
  model: z.string().min(1).default('mobilenetv2_int8'),
  /** What is classified: 'crops' (each detection of `classes`) or 'frame' (the whole frame). Default 'crops'. */
  on: z.enum(['crops', 'frame']).default('crops'),
  /** Detector labels whose crops are classified (on: crops). Default: every detection. */
  classes: z.array(z.string().min(1)).min(1).optional(),
  /** Labels kept per crop or frame, best first. Default 3. */
  topK: z.number().int().min(1).max(10).default(3),
  /** Labels below this probability are left out. Default 0.05. */
  minScore: z.number().min(0).max(1).default(0.05),
  /** Crops smaller than this many source pixels tall are not classified. Default 32. */
  minHeight: z.number().int().min(1).default(32),
  /** Classify one frame in this many per stream (tracks keep their last labels between). Default 5. */
  every: z.number().int().min(1).max(1000).default(5),
  /** Images per model call, across all streams. Default 16. */
  batchSize: z.number().int().min(1).max(64).default(16),
  /** Inference sessions of the model. Default 1. */
  sessions: z.number().int().min(1).max(16).default(1),
});
export type ClassifyConfig = z.infer<typeof ClassifyConfig>;

export const SegmentConfig = z.strictObject({
  /** Semantic-segmentation model from the catalogue (task "segmentation"). Default deeplabv3_mnv2_pascal_257. */
  model: z.string().min(1).default('deeplabv3_mnv2_pascal_257'),
  /** Segment one frame in this many per stream. Default 5. */
  every: z.number().int().min(1).max(1000).default(5),
  /** Send the class map with the areas (the viewer's segmentation layer); false sends the areas only. Default true. */
  map: z.boolean().default(true),
  /** Frames per model call, across all streams (the model's batch is made dynamic when above 1). Default 1. */
  batchSize: z.number().int().min(1).max(64).default(1),
  /** Inference sessions of the model. Default 1. */
  sessions: z.number().int().min(1).max(16).default(1),
});
export type SegmentConfig = z.infer<typeof SegmentConfig>;

export const EnhanceConfig = z
  .strictObject({
    /** Non-local means denoising (fast integral-image variant, docs/stages.md). Default false. */
    denoise: z.boolean().default(false),
    /** Its filter strength on the 0..255 scale (about the noise sigma for heavy noise). Default 10. */
    denoiseH: z.number().min(0.5).max(100).default(10),
    /** Gray-world white balance on the mid-tones. Default false. */
    whiteBalance: z.boolean().default(false),
    /** Percentile contrast stretch with an automatic gamma. Default false. */
    contrast: z.boolean().default(false),
  })
  .refine((e) => e.denoise || e.whiteBalance || e.contrast, {
    message: 'turn on at least one of denoise, whiteBalance, contrast',
  });
export type EnhanceConfig = z.infer<typeof EnhanceConfig>;

/**
 * A stream's stages, in order: a list (`[detect, classify]`) or the same as one string (`detect -> classify`).
 * Default: detect plus every stage the edge configures (classify, segment, reid).
 */
export const StageList = z.preprocess(
  (v) => (typeof v === 'string' ? v.split('->').map((s) => s.trim()) : v),
  z.array(StageName).min(1),
);

/**
 * Problems with a stream's stage list, as config issues (`streams.0.stages: ...`): detect is required, once each,
 * classify of crops and reid come after detect, and every stage named needs its section (reid: the deepsort
 * tracker). Empty when the list is fine.
 */
export function stageListIssues(
  stages: readonly StageName[],
  path: string,
  available: { classify?: ClassifyConfig; segment?: SegmentConfig; enhance?: EnhanceConfig; reid: boolean },
): string[] {
  const issues: string[] = [];
  const seen = new Set<StageName>();
  for (const s of stages) {
    if (seen.has(s)) issues.push(`${path}: "${s}" is listed twice`);
    seen.add(s);
  }
  const detect = stages.indexOf('detect');
  if (detect < 0) issues.push(`${path}: every stream needs "detect" (the tracker follows its objects)`);
  if (stages.includes('classify') && !available.classify) {
    issues.push(`${path}: "classify" needs a classify section (classify: {} takes the defaults)`);
  }
  if (stages.includes('segment') && !available.segment) {
    issues.push(`${path}: "segment" needs a segment section (segment: {} takes the defaults)`);
  }
  if (stages.includes('enhance') && !available.enhance) {
    issues.push(`${path}: "enhance" needs an enhance section (e.g. enhance: {denoise: true})`);
  }
  if (stages.indexOf('enhance') > 0)
    issues.push(`${path}: "enhance" must come first (it cleans the frame the others see)`);
  if (stages.includes('reid') && !available.reid) {
    issues.push(`${path}: "reid" needs re-ID on (tracker: {type: deepsort}, reid not disabled)`);
  }
  const after = (s: StageName, why: string) => {
    const at = stages.indexOf(s);
    if (at >= 0 && detect >= 0 && at < detect)
      issues.push(`${path}: "${s}" must come after "detect" (${why})`);
  };
  if (available.classify?.on !== 'frame') after('classify', 'it classifies the detections');
  after('reid', 'it embeds the detections');
  return issues;
}

/** The stages a stream runs: its own list, else detect plus every stage configured for the edge. */
export function resolveStages(
  own: readonly StageName[] | undefined,
  available: { classify?: unknown; segment?: unknown; enhance?: unknown; reid: boolean },
): StageName[] {
  if (own) return [...own];
  const out: StageName[] = available.enhance ? ['enhance', 'detect'] : ['detect'];
  if (available.segment) out.push('segment');
  if (available.classify) out.push('classify');
  if (available.reid) out.push('reid');
  return out;
}
