/** The classify stage: crops of chosen detections (or whole frames) -> shared batches -> top-k labels. */
import { ClassifyConfig, type ClassLabel, type Detection } from '@sightline/shared';
import type { z } from 'zod';
import type { InferenceBackend } from '../inference/backend.ts';
import { type CropSource, cropImage } from '../preprocess/crop.ts';
import { type LaneStats, StageLane } from './stage-lane.ts';
import { openStagePool, type StagePoolOptions } from './stage-pool.ts';

/** Counters of the stage since it started (images: crops and frames classified). */
export type ClassifyStats = LaneStats;

export class ClassifyStage {
  readonly config: ClassifyConfig;
  readonly #lane: StageLane<ClassLabel[]>;
  readonly #classes: Set<string> | undefined;

  private constructor(config: ClassifyConfig, pool: InferenceBackend) {
    this.config = config;
    this.#classes = config.classes ? new Set(config.classes) : undefined;
    const classify = pool.classify?.bind(pool);
    if (!classify) throw new TypeError('the classify stage needs a backend that can classify()');
    this.#lane = new StageLane(
      pool,
      async (images) =>
        (await classify(images, { topK: config.topK })).labels.map((labels) =>
          labels.filter((l) => l.score >= config.minScore),
        ),
      config,
    );
  }

  /** Verify and load the classification model and start its sessions. Throws ModelError for a wrong model. */
  static async create(
    settings: z.input<typeof ClassifyConfig> | undefined,
    options: StagePoolOptions,
  ): Promise<ClassifyStage> {
    const config = ClassifyConfig.parse(settings ?? {});
    const { pool } = await openStagePool('classify', config.model, 'classification', config, options);
    return new ClassifyStage(config, pool);
  }

  /** The provider the sessions run on. */
  get provider(): string {
    return this.#lane.provider;
  }

  stats(): ClassifyStats {
    return this.#lane.stats();
  }

  /** Whether frame `seq` of a stream gets classified (StageLane.runsOn: one in `every`, while it keeps up). */
  runsOn(seq: number): boolean {
    return this.#lane.runsOn(seq);
  }

  /** Which objects' crops are classified: of a configured class (all by default), at least minHeight tall. */
  eligible(detections: readonly Pick<Detection, 'box' | 'label'>[]): boolean[] {
    return detections.map(
      (d) => (!this.#classes || this.#classes.has(d.label)) && d.box[3] - d.box[1] >= this.config.minHeight,
    );
  }

  /** Labels of the `eligible` objects cut from `frame` (undefined for the others). Rejects when the call fails. */
  async crops(
    frame: CropSource,
    detections: readonly Pick<Detection, 'box'>[],
    eligible: readonly boolean[],
  ): Promise<(ClassLabel[] | undefined)[]> {
    const out: (ClassLabel[] | undefined)[] = new Array(detections.length).fill(undefined);
    const index: number[] = [];
    const crops = [];
    for (let i = 0; i < detections.length; i++) {
      if (!eligible[i]) continue;
      const crop = cropImage(frame, detections[i]!.box);
      if (!crop) continue;
      index.push(i);
      crops.push(crop);
    }
    if (crops.length) {
      const labels = await this.#lane.run(crops);
      index.forEach((di, k) => {
        out[di] = labels[k];
      });
    }
    return out;
  }

  /** Labels of the whole frame. Rejects when the call fails. */
  async frame(frame: CropSource): Promise<ClassLabel[]> {
    // A copy: the pool transfers what it is given, and the frame's pixels also feed crops and thumbnails.
    const image = { data: frame.data.slice(), width: frame.width, height: frame.height };
    const [labels] = await this.#lane.run([image]);
    return labels ?? [];
  }

  /** Stop the sessions. Safe to call twice. */
  close(): Promise<void> {
    return this.#lane.close();
  }
}
