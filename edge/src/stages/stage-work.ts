/** What the stages after detection do for one frame, and what they give back (StreamCore waits for them). */
import type { ClassLabel, FrameResult, FrameSegmentation } from '@sightline/shared';
import type { Appearance } from '../tracking/tracker.ts';

/** What the stages after detection do for one frame. */
export interface StageWork {
  /** re-ID: which detections get embeddings. */
  embed?: boolean[];
  /** classify: which detections' crops are classified. */
  classifyCrops?: boolean[];
  /** classify: the whole frame. */
  classifyFrame?: boolean;
  /** segment: the whole frame. */
  segment?: boolean;
}

/** What the stages gave for one frame; a part that failed or was not asked for is absent. */
export interface StageOutcome {
  appearance?: Appearance;
  /** Labels per detection (undefined where not classified). */
  crops?: (ClassLabel[] | undefined)[];
  frame?: ClassLabel[];
  segmentation?: FrameSegmentation;
}

/** The classify and segment work a frame needs (the runtime's per-stream stage plan); undefined for none. */
export type StageWorkOf = (
  result: FrameResult,
) => Pick<StageWork, 'classifyCrops' | 'classifyFrame' | 'segment'> | undefined;
