/** Loads a stage's model and starts its inference sessions (shared by the classify and segment stages). */
import { type InferenceConfig, type Manifest, ModelError, type ModelTask } from '@sightline/shared';
import type { InferenceBackend, InferenceBackendFactory, PoolLogger } from '../inference/backend.ts';
import { asDynamicBatch } from '../inference/dynamic-batch.ts';
import { InferencePool } from '../inference/inference-pool.ts';
import { type LoadedModel, loadModel } from '../models/load.ts';

/** Where a stage's model comes from and how its sessions run. */
export interface StagePoolOptions {
  /** The edge's inference settings: providers and intra-op threads are reused (TensorRT excepted, as for re-ID). */
  inference: InferenceConfig;
  /** Directory holding model files. Default $MODELS_DIR or models/cache. */
  modelsDir?: string;
  /** The manifest, when the caller has it loaded already. Default: read models/manifest.json. */
  manifest?: Manifest;
  /** Where session problems are logged. Default the backend's logger. */
  logger?: PoolLogger;
  /** Starts the model's backend. Default InferencePool.create (local worker threads). */
  backend?: InferenceBackendFactory;
}

/**
 * Verify and load `modelId` (which must be a `task` model), and start `sessions` sessions taking up to
 * `batchSize` images per call (a batch-agnostic model's batch is made dynamic for batches above 1). TensorRT is
 * skipped: ONNX Runtime for Node takes its settings from process-wide variables, which are the detector's.
 */
export async function openStagePool(
  stage: string,
  modelId: string,
  task: ModelTask,
  settings: { sessions: number; batchSize: number },
  options: StagePoolOptions,
): Promise<{ model: LoadedModel; pool: InferenceBackend }> {
  const model = await loadModel(modelId, { modelsDir: options.modelsDir, manifest: options.manifest });
  if (model.entry.task !== task) {
    throw new ModelError(
      'MODEL_INVALID',
      `${stage}.model ${modelId} is a ${model.entry.task} model, not a ${task} model (task "${task}")`,
    );
  }
  const entry = settings.batchSize > 1 ? asDynamicBatch(model.entry) : model.entry;
  const providers = options.inference.providers.filter((p) => p !== 'tensorrt');
  const create = options.backend ?? ((o) => InferencePool.create(o));
  const pool = await create({
    model: entry,
    modelPath: model.path,
    labels: model.labels,
    inference: {
      ...options.inference,
      providers: providers.length ? providers : ['cpu'],
      sessions: settings.sessions,
      batchSize: settings.batchSize,
      // One request per session at a time: images pile up in the batcher meanwhile and go as one batch.
      inflightPerSession: 1,
    },
    ...(options.logger ? { logger: options.logger } : {}),
  });
  return { model: { ...model, entry }, pool };
}
