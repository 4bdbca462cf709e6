/** Starts and stops the stages after detection an edge runs (re-ID, classify, segment), and plans each stream's. */
import {
  type Detection,
  type EdgeConfig,
  type FrameResult,
  type Manifest,
  resolveStages,
  type StageName,
  type StreamConfig,
} from '@sightline/shared';
import type { InferenceBackendFactory, PoolLogger } from '../inference/backend.ts';
import { ReidStage } from '../reid/reid-stage.ts';
import { ClassifyStage } from './classify-stage.ts';
import type { PostStages } from './run-stages.ts';
import { SegmentStage } from './segment-stage.ts';
import type { LabelWorkOf, StageWorkOf } from './stage-work.ts';

/** Re-ID runs with the deepsort tracker unless turned off (ByteTrack would never use the embeddings). */
export function reidEnabled(config: EdgeConfig): boolean {
  return config.tracker.type === 'deepsort' && (config.reid?.enabled ?? true);
}

/** The stages a stream runs, in order: its own list, else detect plus every stage the edge configures. */
export function streamStages(config: EdgeConfig, stream: Pick<StreamConfig, 'stages'>): StageName[] {
  return resolveStages(stream.stages, {
    classify: config.classify,
    segment: config.segment,
    reid: reidEnabled(config),
  });
}

/**
 * Start the stages `config` turns on (each loads and verifies its model), one after the other; `closed()` true
 * stops before the next. What started is returned even then, so the caller can close it.
 */
export async function openPostStages(
  config: EdgeConfig,
  options: {
    manifest: Manifest;
    backend: InferenceBackendFactory;
    log: PoolLogger;
    closed: () => boolean;
  },
): Promise<PostStages> {
  const stages: PostStages = {};
  const common = {
    inference: config.inference,
    modelsDir: config.modelsDir,
    manifest: options.manifest,
    backend: options.backend,
  };
  if (reidEnabled(config) && !options.closed()) {
    stages.reid = await ReidStage.create({ ...common, reid: config.reid });
    options.log.info({ model: stages.reid.config.model, provider: stages.reid.provider }, 're-ID ready');
  }
  if (config.classify && !options.closed()) {
    stages.classify = await ClassifyStage.create(config.classify, common);
    options.log.info(
      {
        model: stages.classify.config.model,
        provider: stages.classify.provider,
        on: stages.classify.config.on,
      },
      'classification ready',
    );
  }
  if (config.segment && !options.closed()) {
    stages.segment = await SegmentStage.create(config.segment, common);
    options.log.info(
      { model: stages.segment.config.model, provider: stages.segment.provider },
      'segmentation ready',
    );
  }
  return stages;
}

/** Stop every stage's sessions (those that failed to close are ignored: the edge is closing). */
export async function closePostStages(stages: PostStages): Promise<void> {
  await Promise.allSettled([stages.reid?.close(), stages.classify?.close(), stages.segment?.close()]);
}

/**
 * The whole-frame classify and segment work of each frame of a stream running `names`: one frame in `every` of
 * each stage while it keeps up. Undefined when the stream runs neither.
 */
export function stageWorkOf(names: readonly StageName[], stages: PostStages): StageWorkOf | undefined {
  const frameClassify =
    names.includes('classify') && stages.classify?.config.on === 'frame' ? stages.classify : undefined;
  const segment = names.includes('segment') ? stages.segment : undefined;
  if (!frameClassify && !segment) return undefined;
  return (result: FrameResult) => {
    const work: ReturnType<StageWorkOf> & object = {};
    if (frameClassify?.runsOn(result.seq)) work.classifyFrame = true;
    if (segment?.runsOn(result.seq)) work.segment = true;
    return work;
  };
}

/**
 * Which tracks of each tracked frame of a stream running `names` get their crops classified (classify on crops):
 * one frame in `every` while the stage keeps up, the tracks matched on that frame of the chosen classes and height.
 */
export function labelWorkOf(names: readonly StageName[], stages: PostStages): LabelWorkOf | undefined {
  const classify =
    names.includes('classify') && stages.classify?.config.on !== 'frame' ? stages.classify : undefined;
  if (!classify) return undefined;
  return (result: FrameResult) => {
    const matched = result.tracks.map((t) => t.timeSinceUpdate === 0);
    if (!matched.includes(true) || !classify.runsOn(result.seq)) return undefined;
    const eligible = classify.eligible(result.tracks);
    return eligible.map((e, i) => e && matched[i]!);
  };
}

/** What a stream's core asks of each frame for the stages it runs (StreamCore's reidEligible, stageWork, labelWork). */
export function stagePlan(
  names: readonly StageName[],
  stages: PostStages,
): {
  reidEligible?: (detections: readonly Detection[], wanted: readonly boolean[]) => boolean[];
  stageWork?: StageWorkOf;
  labelWork?: LabelWorkOf;
} {
  const reid = names.includes('reid') ? stages.reid : undefined;
  const stageWork = stageWorkOf(names, stages);
  const labelWork = labelWorkOf(names, stages);
  return {
    ...(reid ? { reidEligible: (d, wanted) => reid.eligible(d, wanted) } : {}),
    ...(stageWork ? { stageWork } : {}),
    ...(labelWork ? { labelWork } : {}),
  };
}
