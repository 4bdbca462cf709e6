/** How an EdgeRuntime is built beyond its config: the inference backend factory and stored tunings. */
import type { InferenceBackendFactory } from '../inference/backend.ts';
import type { InferenceInput } from '../inference/tuning.ts';

export interface EdgeRuntimeOptions {
  /**
   * Starts the inference backend of a model (the detector's, and re-ID's). Default InferencePool.create: ONNX
   * Runtime sessions in local worker threads.
   */
  inferenceBackend?: InferenceBackendFactory;
  /**
   * The detector's inference settings as the operator wrote them (before defaults). Given, the edge starts with a
   * stored tuning's layout (`sightline tune`, see tunedInference) when these set none of the layout fields.
   * Default: none, no stored tuning is used.
   */
  inferenceInput?: InferenceInput;
  /** Where stored tunings are. Default defaultStateDir() ($SIGHTLINE_STATE_DIR or ~/.cache/sightline). */
  stateDir?: string;
  /**
   * With `inferenceInput`: when the stored tuning was measured for another model file or provider, measure again
   * (1 s per layout) before starting and store it (retuneIfStale). Default true.
   */
  retuneStale?: boolean;
}
