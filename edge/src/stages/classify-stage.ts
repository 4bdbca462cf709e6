/** The classify stage: crops of chosen detections (or whole frames) -> shared batches -> top-k labels. */
import { ClassifyConfig, type ClassLabel, type Detection } from '@sightline/shared';
import type { z } from 'zod';
import type { InferenceBackend } from '../inference/backend.ts';
import { type CropSource, cropImage } from '../preprocess/crop.ts';
import { CropBatcher } from '../reid/crop-batcher.ts';
import { openStagePool, type StagePoolOptions } from './stage-pool.ts';

/** Counters of the stage since it started. */
export interface ClassifyStats {
  /** Images classified (crops and frames). */
  images: number;
  /** Model calls (images / calls = mean batch size). */
  calls: number;
  /** Requests that failed (their frames were published without labels). */
  failures: number;
  /** Frames it was due on but skipped because it was behind (tracks kept their labels). */
  skipped: number;
}

export class ClassifyStage {
  readonly config: ClassifyConfig;
  readonly #pool: InferenceBackend;
  readonly #batcher: CropBatcher<ClassLabel[]>;
  readonly #classes: Set<string> | undefined;
  #failures = 0;
  #skipped = 0;

  private constructor(config: ClassifyConfig, pool: InferenceBackend) {
    this.config = config;
    this.#pool = pool;
    this.#classes = config.classes ? new Set(config.classes) : undefined;
    const classify = pool.classify?.bind(pool);
    if (!classify) throw new TypeError('the classify stage needs a backend that can classify()');
    this.#batcher = new CropBatcher(
      async (images) =>
        (await classify(images, { topK: config.topK })).labels.map((labels) =>
          labels.filter((l) => l.score >= config.minScore),
        ),
      { maxBatch: pool.maxBatch, concurrency: config.sessions },
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
    return this.#pool.provider;
  }

  stats(): ClassifyStats {
    return {
      images: this.#batcher.crops,
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
      const labels = await this.#counted(this.#batcher.embed(crops));
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
    const [labels] = await this.#counted(this.#batcher.embed([image]));
    return labels ?? [];
  }

  async #counted<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (err) {
      this.#failures++;
      throw err;
    }
  }

  /** Stop the sessions. Safe to call twice. */
  close(): Promise<void> {
    return this.#pool.close();
  }
}
