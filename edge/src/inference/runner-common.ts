/** What the classifier and segmentation runners share: their batch size and the float outputs of a run. */
import type { ModelEntry } from '@sightline/shared';
import type ort from 'onnxruntime-node';
import type { OutputMap, OutputTensor } from '../adapters/types.ts';
import { isDynamicBatch } from './providers.ts';

/** Images per model call: `maxBatch` (default 32) for dynamic-batch models, the model's own batch otherwise. */
export function runnerBatch(init: { entry: ModelEntry; maxBatch?: number }): number {
  return isDynamicBatch(init.entry)
    ? Math.max(1, init.maxBatch ?? 32)
    : Math.max(1, init.entry.input.shape[0]!);
}

/** The float32 outputs of a run, as the adapters read them. */
export function floatOutputs(out: ort.InferenceSession.ReturnType): OutputMap {
  const outputs: Record<string, OutputTensor> = {};
  for (const [name, value] of Object.entries(out)) {
    if (value.type === 'float32') outputs[name] = { data: value.data as Float32Array, dims: value.dims };
  }
  return outputs;
}
