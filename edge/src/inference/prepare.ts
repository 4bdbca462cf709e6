/** Ahead-of-time model preparation: build TensorRT engines (one warm-up run per batch profile) or warm the CPU session. */
import type { ExecutionProvider, InferenceConfig, ModelEntry } from '@sightline/shared';
import { InferenceConfig as InferenceConfigSchema } from '@sightline/shared';
import ort from 'onnxruntime-node';
import type { z } from 'zod';
import { inputGeometry } from './model-session.ts';
import {
  applyTensorrtEnvironment,
  batchProfiles,
  createSession,
  isDynamicBatch,
  type SkippedProvider,
} from './providers.ts';

/** One step of preparation, for progress output. */
export interface PrepareProgress {
  stage: 'provider' | 'load' | 'warmup' | 'done';
  message: string;
  provider?: ExecutionProvider;
  /** Batch size of the profile being warmed. */
  batch?: number;
  ms?: number;
}

export interface PrepareResult {
  provider: ExecutionProvider;
  skipped: SkippedProvider[];
  /** Batch sizes warmed (TensorRT builds one engine profile per size). */
  profiles: number[];
  loadMs: number;
  warmupMs: number[];
}

/**
 * Load `entry` on the first working provider of `config.providers` and run one warm-up per batch profile, so
 * TensorRT builds (and caches, in trtCacheDir) its engines now rather than on the first frame. On a machine
 * without TensorRT it reports why and just warms the session it could create.
 */
export async function prepareModel(
  entry: ModelEntry,
  path: string,
  config: z.input<typeof InferenceConfigSchema> | InferenceConfig,
  onProgress: (p: PrepareProgress) => void = () => {},
): Promise<PrepareResult> {
  const cfg = InferenceConfigSchema.parse(config);
  const { width, height, channels } = inputGeometry(entry);
  applyTensorrtEnvironment(entry, cfg);
  const t0 = performance.now();
  const { session, provider, skipped } = await createSession(path, entry, cfg, {
    warn: (data, message) => onProgress({ stage: 'provider', message: `${message}: ${String(data.reason)}` }),
  });
  try {
    const loadMs = performance.now() - t0;
    if (cfg.providers.includes('tensorrt') && provider !== 'tensorrt') {
      onProgress({
        stage: 'provider',
        provider,
        message: `TensorRT is unavailable; warming the ${provider} session`,
      });
    }
    onProgress({
      stage: 'load',
      provider,
      ms: loadMs,
      message: `loaded ${entry.id} on ${provider} in ${loadMs.toFixed(0)} ms`,
    });
    const profiles = provider === 'tensorrt' ? batchProfiles(entry, cfg.batchSize) : [1];
    const warmupMs: number[] = [];
    for (const batch of profiles) {
      const n = isDynamicBatch(entry) ? batch : 1;
      const dims =
        entry.preprocess.layout === 'NCHW' ? [n, channels, height, width] : [n, height, width, channels];
      const input = new ort.Tensor('float32', new Float32Array(n * channels * height * width), dims);
      const t = performance.now();
      const out = await session.run({ [entry.input.name]: input });
      for (const v of Object.values(out)) v.dispose?.();
      const ms = performance.now() - t;
      warmupMs.push(ms);
      onProgress({ stage: 'warmup', provider, batch: n, ms, message: `batch ${n}: ${ms.toFixed(0)} ms` });
    }
    onProgress({ stage: 'done', provider, message: `${entry.id} ready on ${provider}` });
    return { provider, skipped, profiles, loadMs, warmupMs };
  } finally {
    await session.release();
  }
}
