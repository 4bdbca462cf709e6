/** The segment stage: whole frames -> shared batches -> per-class areas and the class map. */
import { type FrameSegmentation, SegmentConfig } from '@sightline/shared';
import type { z } from 'zod';
import type { InferenceBackend } from '../inference/backend.ts';
import type { SegmentResult } from '../inference/protocol.ts';
import type { CropSource } from '../preprocess/crop.ts';
import { encodeClassMap } from './class-map.ts';
import { type LaneStats, StageLane } from './stage-lane.ts';
import { openStagePool, type StagePoolOptions } from './stage-pool.ts';

/** Counters of the stage since it started (images: frames segmented). */
export type SegmentStats = LaneStats;

export class SegmentStage {
  readonly config: SegmentConfig;
  readonly #lane: StageLane<SegmentResult>;

  private constructor(config: SegmentConfig, pool: InferenceBackend) {
    this.config = config;
    const segment = pool.segment?.bind(pool);
    if (!segment) throw new TypeError('the segment stage needs a backend that can segment()');
    this.#lane = new StageLane(pool, (frames) => segment(frames), config);
  }

  /** Verify and load the segmentation model and start its sessions. Throws ModelError for a wrong model. */
  static async create(
    settings: z.input<typeof SegmentConfig> | undefined,
    options: StagePoolOptions,
  ): Promise<SegmentStage> {
    const config = SegmentConfig.parse(settings ?? {});
    const { pool } = await openStagePool('segment', config.model, 'segmentation', config, options);
    return new SegmentStage(config, pool);
  }

  /** The provider the sessions run on. */
  get provider(): string {
    return this.#lane.provider;
  }

  stats(): SegmentStats {
    return this.#lane.stats();
  }

  /** Whether frame `seq` of a stream gets segmented (StageLane.runsOn: one in `every`, while it keeps up). */
  runsOn(seq: number): boolean {
    return this.#lane.runsOn(seq);
  }

  /** The segmentation of `frame` as published (areas, and the class map unless map is off). Rejects when the call fails. */
  async frame(frame: CropSource): Promise<FrameSegmentation> {
    // A copy: the pool transfers what it is given, and the frame's pixels also feed crops and thumbnails.
    const pixels = {
      data: frame.data.slice(),
      width: frame.width,
      height: frame.height,
      sourceWidth: frame.sourceWidth ?? frame.width,
      sourceHeight: frame.sourceHeight ?? frame.height,
    };
    const [result] = await this.#lane.run([pixels]);
    if (!result) throw new Error('the segmentation model returned no result');
    return {
      classes: result.classes,
      ...(this.config.map ? { map: encodeClassMap(result.classMap, result.width, result.region) } : {}),
    };
  }

  /** Stop the sessions. Safe to call twice. */
  close(): Promise<void> {
    return this.#lane.close();
  }
}
