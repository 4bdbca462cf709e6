/** The segment stage: whole frames -> shared batches -> per-class areas and the class map. */
import { type FrameSegmentation, SegmentConfig } from '@sightline/shared';
import type { z } from 'zod';
import type { InferenceBackend } from '../inference/backend.ts';
import type { SegmentResult } from '../inference/protocol.ts';
import type { CropSource } from '../preprocess/crop.ts';
import { CropBatcher } from '../reid/crop-batcher.ts';
import { encodeClassMap } from './class-map.ts';
import { openStagePool, type StagePoolOptions } from './stage-pool.ts';

/** Counters of the stage since it started. */
export interface SegmentStats {
  frames: number;
  calls: number;
  failures: number;
  /** Frames it was due on but skipped because it was behind. */
  skipped: number;
}

export class SegmentStage {
  readonly config: SegmentConfig;
  readonly #pool: InferenceBackend;
  readonly #batcher: CropBatcher<SegmentResult>;
  #failures = 0;
  #skipped = 0;

  private constructor(config: SegmentConfig, pool: InferenceBackend) {
    this.config = config;
    this.#pool = pool;
    const segment = pool.segment?.bind(pool);
    if (!segment) throw new TypeError('the segment stage needs a backend that can segment()');
    this.#batcher = new CropBatcher((frames) => segment(frames), {
      maxBatch: pool.maxBatch,
      concurrency: config.sessions,
    });
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
    return this.#pool.provider;
  }

  stats(): SegmentStats {
    return {
      frames: this.#batcher.crops,
      calls: this.#batcher.calls,
      failures: this.#failures,
      skipped: this.#skipped,
    };
  }

  /**
   * Whether frame `seq` of a stream gets this stage: one in `every`, and only while the stage keeps up. When a full
   * batch is already waiting, the frame is skipped (and counted) rather than queued: a frame waits for its stages
   * and holds its stream's frames behind it, so a stage that falls behind would otherwise add its whole backlog to
   * every stream's latency.
   */
  runsOn(seq: number): boolean {
    if (seq % this.config.every !== 0) return false;
    if (this.#batcher.queued >= this.#pool.maxBatch) {
      this.#skipped++;
      return false;
    }
    return true;
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
    let result: SegmentResult | undefined;
    try {
      [result] = await this.#batcher.embed([pixels]);
    } catch (err) {
      this.#failures++;
      throw err;
    }
    if (!result) throw new Error('the segmentation model returned no result');
    return {
      classes: result.classes,
      ...(this.config.map ? { map: encodeClassMap(result.classMap, result.width, result.region) } : {}),
    };
  }

  /** Stop the sessions. Safe to call twice. */
  close(): Promise<void> {
    return this.#pool.close();
  }
}
