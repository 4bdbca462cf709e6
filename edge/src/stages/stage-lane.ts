/**
 * What the classify and segment stages share: the model's sessions, one batcher across every stream, the one-in-
 * `every` cadence that skips frames while the stage is behind, and the counters.
 */
import type { ImageBuffer } from '../frame.ts';
import type { InferenceBackend } from '../inference/backend.ts';
import { CropBatcher, type RunBatch } from '../reid/crop-batcher.ts';

/** Counters of a stage since it started. */
export interface LaneStats {
  /** Images sent to the model (crops or frames). */
  images: number;
  /** Model calls (images / calls = mean batch size). */
  calls: number;
  /** Requests that failed (their frames went on without this stage's part). */
  failures: number;
  /** Frames it was due on but skipped because it was behind. */
  skipped: number;
}

export class StageLane<T> {
  readonly #pool: InferenceBackend;
  readonly #batcher: CropBatcher<T>;
  readonly #every: number;
  #failures = 0;
  #skipped = 0;

  /** `run` answers one batch of at most the pool's maxBatch images; `sessions` batches run at once. */
  constructor(pool: InferenceBackend, run: RunBatch<T>, options: { every: number; sessions: number }) {
    this.#pool = pool;
    this.#every = options.every;
    this.#batcher = new CropBatcher(run, { maxBatch: pool.maxBatch, concurrency: options.sessions });
  }

  /** The provider the sessions run on. */
  get provider(): string {
    return this.#pool.provider;
  }

  stats(): LaneStats {
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
    if (seq % this.#every !== 0) return false;
    if (this.#batcher.queued >= this.#pool.maxBatch) {
      this.#skipped++;
      return false;
    }
    return true;
  }

  /** The answers for `images`, in order (batched with other streams' images); a failure is counted and rethrown. */
  async run(images: ImageBuffer[]): Promise<T[]> {
    try {
      return await this.#batcher.embed(images);
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
