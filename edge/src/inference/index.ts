/** Inference engine: the backend seam, the worker-thread session pool, the runners, the provider chain and ahead-of-time preparation. */
export type {
  InferenceBackend,
  InferenceBackendEvents,
  InferenceBackendFactory,
  InferenceBackendOptions,
} from './backend.ts';
export { type ClassifierInit, ClassifierRunner } from './classifier-runner.ts';
export {
  asDynamicBatch,
  batchedEntry,
  MAX_DYNAMIC_BATCH,
  makeBatchDynamic,
  needsBatchRewrite,
} from './dynamic-batch.ts';
export { type EmbeddingInit, type EmbeddingResult, EmbeddingRunner } from './embedding-runner.ts';
export {
  InferencePool,
  type InferencePoolEvents,
  type InferencePoolOptions,
  type PoolLogger,
} from './inference-pool.ts';
export {
  OverflowBackend,
  type OverflowFactoryOptions,
  type OverflowStats,
  withOverflow,
} from './overflow-backend.ts';
export { type PoolMethod, poolMethod } from './pool-requests.ts';
export { type PrepareProgress, type PrepareResult, prepareModel } from './prepare.ts';
export type { ClassifyResult, EmbedResult, ImagePixels, InferResult, SegmentResult } from './protocol.ts';
export { batchProfiles, createSession, isDynamicBatch, type SkippedProvider } from './providers.ts';
export {
  type OffloadStats,
  type OffloadTransport,
  RemoteBackend,
  type RemoteBackendOptions,
} from './remote-backend.ts';
export { type RetuneOptions, retuneIfStale, syntheticImage, tuneImage } from './retune.ts';
export { type SegmentationInit, SegmentationRunner } from './segmentation-runner.ts';
export { SessionRunner } from './session-runner.ts';
export {
  chooseLayout,
  defaultStateDir,
  describeLayout,
  findTuning,
  hostIdentity,
  LAYOUT_FIELDS,
  readTunings,
  storeTuning,
  type TunedLayout,
  type Tuning,
  type TuningRow,
  tunedInference,
  tuningCandidates,
  tuningKey,
  tuningPath,
} from './tuning.ts';
export { formatTuningTable, measureLayout, percentile, runTuning } from './tuning-run.ts';
