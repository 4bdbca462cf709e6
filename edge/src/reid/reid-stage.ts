/** The re-ID stage of the edge: crops of the detections a tracker asks about -> shared batches -> embeddings. */
import {
  type Detection,
  type InferenceConfig,
  type Manifest,
  ModelError,
  ReidConfig,
  type ReidConfig as ReidSettings,
} from '@sightline/shared';
import type { z } from 'zod';
import type { InferenceBackend, InferenceBackendFactory, PoolLogger } from '../inference/backend.ts';
import { InferencePool } from '../inference/inference-pool.ts';
import { loadModel } from '../models/load.ts';
import { type CropSource, cropImage } from '../preprocess/crop.ts';
import type { Appearance } from '../tracking/tracker.ts';
import { CropBatcher } from './crop-batcher.ts';

export interface ReidStageOptions {
  /** Which model, classes, crop size limit, batch and sessions. Default ReidConfig defaults (osnet, person). */
  reid?: z.input<typeof ReidConfig>;
  /** The edge's inference settings: providers and intra-op threads are reused (TensorRT excepted, see below). */
  inference: InferenceConfig;
  /** Directory holding model files. Default $MODELS_DIR or models/cache. */
  modelsDir?: string;
  /** The manifest, when the caller has it loaded already. Default: read models/manifest.json. */
  manifest?: Manifest;
  /** Where session problems are logged. Default the backend's logger. */
  logger?: PoolLogger;
  /** Starts the re-ID model's backend. Default InferencePool.create (local worker threads). */
  backend?: InferenceBackendFactory;
}

/** Counters of the stage since it started. */
export interface ReidStats {
  /** Crops embedded. */
  crops: number;
  /** Model calls (crops / calls = mean batch size). */
  calls: number;
  /** Requests that failed (their frames were tracked without appearance). */
  failures: number;
}

export class ReidStage {
  readonly config: ReidSettings;
  readonly #pool: InferenceBackend;
  readonly #batcher: CropBatcher;
  readonly #classes: Set<string>;
  #failures = 0;

  private constructor(config: ReidSettings, pool: InferenceBackend) {
    this.config = config;
    this.#pool = pool;
    this.#classes = new Set(config.classes);
    this.#batcher = new CropBatcher(async (crops) => (await pool.embed(crops)).embeddings, {
      maxBatch: pool.maxBatch,
      concurrency: config.sessions,
    });
  }

  /**
   * Verify and load the re-ID model and start its sessions. ONNX Runtime for Node passes TensorRT settings only
   * through process-wide environment variables, which belong to the detector, so re-ID skips TensorRT and runs
   * on the next provider (CUDA, else CPU).
   */
  static async create(options: ReidStageOptions): Promise<ReidStage> {
    const config = ReidConfig.parse(options.reid ?? {});
    const model = await loadModel(config.model, { modelsDir: options.modelsDir, manifest: options.manifest });
    if (model.entry.task !== 'reid') {
      throw new ModelError(
        'MODEL_INVALID',
        `reid.model ${config.model} is a ${model.entry.task} model, not a re-ID model (task "reid")`,
      );
    }
    const providers = options.inference.providers.filter((p) => p !== 'tensorrt');
    const create = options.backend ?? ((o) => InferencePool.create(o));
    const pool = await create({
      model: model.entry,
      modelPath: model.path,
      labels: [],
      inference: {
        ...options.inference,
        providers: providers.length ? providers : ['cpu'],
        sessions: config.sessions,
        batchSize: config.batchSize,
        // One request per session at a time: crops pile up in the batcher meanwhile and go as one batch.
        inflightPerSession: 1,
      },
      ...(options.logger ? { logger: options.logger } : {}),
    });
    return new ReidStage(config, pool);
  }

  /** The provider the re-ID sessions run on. */
  get provider(): string {
    return this.#pool.provider;
  }

  stats(): ReidStats {
    return { crops: this.#batcher.crops, calls: this.#batcher.calls, failures: this.#failures };
  }

  /**
   * Which detections can get an embedding at all: `wanted` by the tracker, of a configured class, at least
   * minHeight source pixels tall.
   */
  eligible(detections: readonly Detection[], wanted: readonly boolean[]): boolean[] {
    return detections.map(
      (d, i) =>
        wanted[i] === true && this.#classes.has(d.label) && d.box[3] - d.box[1] >= this.config.minHeight,
    );
  }

  /**
   * Embeddings of the `eligible` detections cut from `frame` (undefined for the others). Rejects when the model
   * call fails; the caller tracks that frame without appearance.
   */
  async appearance(
    frame: CropSource,
    detections: readonly Detection[],
    eligible: readonly boolean[],
  ): Promise<Appearance> {
    const embeddings: (Float32Array | undefined)[] = new Array(detections.length).fill(undefined);
    const index: number[] = [];
    const crops = [];
    for (let i = 0; i < detections.length; i++) {
      if (!eligible[i]) continue;
      const crop = cropImage(frame, (detections[i] as Detection).box);
      if (!crop) continue;
      index.push(i);
      crops.push(crop);
    }
    if (crops.length) {
      try {
        const out = await this.#batcher.embed(crops);
        index.forEach((di, k) => {
          embeddings[di] = out[k];
        });
      } catch (err) {
        this.#failures++;
        throw err;
      }
    }
    return { embeddings };
  }

  /** Stop the re-ID sessions. Safe to call twice. */
  close(): Promise<void> {
    return this.#pool.close();
  }
}
