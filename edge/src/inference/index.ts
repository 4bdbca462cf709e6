/** Inference engine: the worker-thread session pool, the provider chain and ahead-of-time preparation. */
export {
  InferencePool,
  type InferencePoolEvents,
  type InferencePoolOptions,
  type PoolLogger,
} from './inference-pool.ts';
export { type PrepareProgress, type PrepareResult, prepareModel } from './prepare.ts';
export type { InferResult } from './protocol.ts';
export { batchProfiles, createSession, isDynamicBatch, type SkippedProvider } from './providers.ts';
export { SessionRunner } from './session-runner.ts';
