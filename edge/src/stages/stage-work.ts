/** What the stages after detection do for one frame, and what they give back (StreamCore waits for them, or not). */
import type { ClassLabel, FrameResult, FrameSegmentation } from '@sightline/shared';
import type { Appearance } from '../tracking/tracker.ts';

/** What the stages after detection do for one frame. */
export interface StageWork {
  /** re-ID: which detections get embeddings. */
  embed?: boolean[];
  /** classify: the whole frame. */
  classifyFrame?: boolean;
  /** segment: the whole frame. */
  segment?: boolean;
}

/** What the stages gave for one frame; a part that failed or was not asked for is absent. */
export interface StageOutcome {
  appearance?: Appearance;
  frame?: ClassLabel[];
  segmentation?: FrameSegmentation;
}

/** The whole-frame classify and segment work a frame needs (the runtime's per-stream stage plan); undefined for none. */
export type StageWorkOf = (result: FrameResult) => Pick<StageWork, 'classifyFrame' | 'segment'> | undefined;

/**
 * Which of a tracked frame's tracks get their crops classified (index-aligned with `result.tracks`); undefined for
 * none. The frame does not wait for them: the labels reach the tracks when they come (Tracker.label).
 */
export type LabelWorkOf = (result: FrameResult) => boolean[] | undefined;
