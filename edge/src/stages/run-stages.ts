/** Runs the stages after detection one frame needs, side by side; each part that fails is left out of the outcome. */
import type { Detection } from '@sightline/shared';
import type { CropSource } from '../preprocess/crop.ts';
import type { ReidStage } from '../reid/reid-stage.ts';
import type { ClassifyStage } from './classify-stage.ts';
import type { SegmentStage } from './segment-stage.ts';
import type { StageOutcome, StageWork } from './stage-work.ts';

/** The stages an edge runs after detection (each unset when off). */
export interface PostStages {
  reid?: ReidStage;
  classify?: ClassifyStage;
  segment?: SegmentStage;
}

/** Which stage failed, for the caller's failure log. */
export type StagePart = 'reid' | 'classify' | 'segment';

/**
 * Do `work` on one frame with `stages`, all parts at once (a frame waits for its slowest stage, not their sum).
 * A part that fails, or whose stage is off, is absent from the outcome and reported to `failed`.
 */
export async function runStages(
  stages: PostStages,
  pixels: CropSource,
  detections: readonly Detection[],
  work: StageWork,
  failed: (part: StagePart, err: unknown) => void,
): Promise<StageOutcome> {
  const outcome: StageOutcome = {};
  const part = async <T>(name: StagePart, run: (() => Promise<T>) | undefined, keep: (v: T) => void) => {
    if (!run) return;
    try {
      keep(await run());
    } catch (err) {
      failed(name, err);
    }
  };
  const { reid, classify, segment } = stages;
  const embed = work.embed;
  await Promise.all([
    part('reid', embed && reid ? () => reid.appearance(pixels, detections, embed) : undefined, (a) => {
      outcome.appearance = a;
    }),
    part('classify', work.classifyFrame && classify ? () => classify.frame(pixels) : undefined, (f) => {
      outcome.frame = f;
    }),
    part('segment', work.segment && segment ? () => segment.frame(pixels) : undefined, (s) => {
      outcome.segmentation = s;
    }),
  ]);
  return outcome;
}
