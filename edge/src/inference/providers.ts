/** Execution-provider chain (tensorrt > cuda > cpu): session options per provider and one-at-a-time fallback. */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import type { ExecutionProvider, InferenceConfig, ModelEntry } from '@sightline/shared';
import { InferenceError, ModelError } from '@sightline/shared/errors';
import ort from 'onnxruntime-node';
import { makeBatchDynamic, needsBatchRewrite } from './dynamic-batch.ts';

/** Where provider fallbacks are reported (a pino logger fits). */
export interface ProviderLog {
  warn(data: Record<string, unknown>, message: string): void;
}

/** A provider that was asked for but could not be used, and why. */
export interface SkippedProvider {
  provider: ExecutionProvider;
  reason: string;
}

/** True when the model's first input dimension is dynamic (batch can grow). */
export function isDynamicBatch(entry: Pick<ModelEntry, 'input'>): boolean {
  const n = entry.input.shape[0];
  return n === undefined || n <= 0;
}

/** The few fixed batch sizes TensorRT builds engine profiles for: 1, half the configured batch, the batch. */
export function batchProfiles(entry: Pick<ModelEntry, 'input' | 'maxBatch'>, batchSize: number): number[] {
  if (!isDynamicBatch(entry)) return [1];
  const max = Math.max(1, Math.min(batchSize, entry.maxBatch));
  return [...new Set([1, Math.max(1, Math.ceil(max / 2)), max])];
}

function shapeFor(entry: Pick<ModelEntry, 'input'>, batch: number): string {
  return `${entry.input.name}:${[batch, ...entry.input.shape.slice(1)].join('x')}`;
}

/**
 * TensorRT provider options: engine cache in trtCacheDir, FP16 per config, min/opt/max batch profiles.
 * Names follow ONNX Runtime's TensorRT provider options. onnxruntime-node 1.30 forwards only `deviceId` of
 * this object to the TensorRT EP (js/node/src/session_options_helper.cc), so the same settings are also
 * applied as ORT_TENSORRT_* environment variables by `applyTensorrtEnvironment`, which the EP reads when it
 * is given no options of its own.
 */
export function tensorrtOptions(
  entry: Pick<ModelEntry, 'input' | 'maxBatch'>,
  config: Pick<InferenceConfig, 'trtCacheDir' | 'trtFp16' | 'batchSize'>,
): Record<string, unknown> & { name: 'tensorrt' } {
  const options: Record<string, unknown> & { name: 'tensorrt' } = {
    name: 'tensorrt',
    deviceId: 0,
    trt_fp16_enable: config.trtFp16,
    trt_engine_cache_enable: config.trtCacheDir !== undefined,
    trt_timing_cache_enable: config.trtCacheDir !== undefined,
  };
  if (config.trtCacheDir !== undefined) {
    options.trt_engine_cache_path = config.trtCacheDir;
    options.trt_timing_cache_path = config.trtCacheDir;
  }
  if (isDynamicBatch(entry)) {
    const profiles = batchProfiles(entry, config.batchSize);
    options.trt_profile_min_shapes = shapeFor(entry, profiles[0]!);
    options.trt_profile_opt_shapes = shapeFor(entry, profiles[Math.floor(profiles.length / 2)]!);
    options.trt_profile_max_shapes = shapeFor(entry, profiles[profiles.length - 1]!);
  }
  return options;
}

/** Default TensorRT engine cache directory: $SIGHTLINE_DATA_DIR/trt-cache, else ./data/trt-cache. */
export function defaultTrtCacheDir(): string {
  return resolve(process.env.SIGHTLINE_DATA_DIR ?? 'data', 'trt-cache');
}

/** The ORT_TENSORRT_* environment variables carrying `tensorrtOptions` (engine cache, FP16, batch profiles). */
export function tensorrtEnvironment(
  entry: Pick<ModelEntry, 'input' | 'maxBatch'>,
  config: Pick<InferenceConfig, 'trtCacheDir' | 'trtFp16' | 'batchSize'>,
): Record<string, string> {
  const cacheDir = config.trtCacheDir ?? defaultTrtCacheDir();
  const env: Record<string, string> = {
    ORT_TENSORRT_FP16_ENABLE: config.trtFp16 ? '1' : '0',
    ORT_TENSORRT_ENGINE_CACHE_ENABLE: '1',
    ORT_TENSORRT_CACHE_PATH: cacheDir,
    ORT_TENSORRT_TIMING_CACHE_ENABLE: '1',
    ORT_TENSORRT_TIMING_CACHE_PATH: cacheDir,
  };
  if (isDynamicBatch(entry)) {
    const profiles = batchProfiles(entry, config.batchSize);
    env.ORT_TENSORRT_PROFILE_MIN_SHAPES = shapeFor(entry, profiles[0]!);
    env.ORT_TENSORRT_PROFILE_OPT_SHAPES = shapeFor(entry, profiles[Math.floor(profiles.length / 2)]!);
    env.ORT_TENSORRT_PROFILE_MAX_SHAPES = shapeFor(entry, profiles[profiles.length - 1]!);
  }
  return env;
}

/**
 * Put the TensorRT settings into the process environment (and create the engine cache directory) when
 * TensorRT is among the providers. Must run on the main thread before sessions are created: a worker
 * thread's process.env is a copy that native code never sees. Variables the user already set win.
 */
export function applyTensorrtEnvironment(
  entry: Pick<ModelEntry, 'input' | 'maxBatch'>,
  config: Pick<InferenceConfig, 'providers' | 'trtCacheDir' | 'trtFp16' | 'batchSize'>,
): Record<string, string> {
  if (!config.providers.includes('tensorrt')) return {};
  if (!isMainThread) throw new TypeError('applyTensorrtEnvironment must run on the main thread');
  const env = tensorrtEnvironment(entry, config);
  mkdirSync(env.ORT_TENSORRT_CACHE_PATH!, { recursive: true });
  for (const [key, value] of Object.entries(env)) process.env[key] ??= value;
  return env;
}

/** Session options for one provider (never a list: a missing provider must fail on its own). */
export function sessionOptionsFor(
  provider: ExecutionProvider,
  entry: Pick<ModelEntry, 'input' | 'maxBatch'>,
  config: InferenceConfig,
): ort.InferenceSession.SessionOptions {
  const spin = config.spinning ? '1' : '0';
  const ep: ort.InferenceSession.ExecutionProviderConfig =
    provider === 'tensorrt'
      ? tensorrtOptions(entry, config)
      : provider === 'cuda'
        ? { name: 'cuda', deviceId: 0 }
        : 'cpu';
  return {
    executionProviders: [ep],
    intraOpNumThreads: config.intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    // Keys become "session.intra_op.allow_spinning" / "session.inter_op.allow_spinning" session config entries.
    extra: { session: { intra_op: { allow_spinning: spin }, inter_op: { allow_spinning: spin } } },
  };
}

const PROVIDER_MISSING =
  /failed to load (shared )?librar|backend not found|is unsupported|not supported|cuda|tensorrt|cudnn|libnv/i;

/** Check the model file before any provider is tried, so a bad path is not reported as a provider problem. */
export function checkModelFile(path: string): void {
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new ModelError('MODEL_MISSING', `Model file not found: ${path} (run: sightline models fetch)`);
  }
}

function modelLoadError(path: string, err: unknown): ModelError {
  const message = (err as Error)?.message ?? String(err);
  if (/protobuf parsing failed|invalid model|model_path|no graph|ModelProto/i.test(message)) {
    return new ModelError('MODEL_INVALID', `${path} is not a valid ONNX model: ${message}`, { cause: err });
  }
  return new ModelError('MODEL_INVALID', `Cannot load model ${path}: ${message}`, { cause: err });
}

/**
 * Create a session on the first provider of `config.providers` that works, trying them one at a time.
 * Each unavailable provider is logged once (warn) with the reason and skipped. Throws ModelError when the
 * model itself cannot be loaded and InferenceError PROVIDER_UNAVAILABLE when no provider is left.
 */
export async function createSession(
  modelPath: string,
  entry: Pick<ModelEntry, 'id' | 'input' | 'maxBatch' | 'batchAgnostic'>,
  config: InferenceConfig,
  log?: ProviderLog,
): Promise<{ session: ort.InferenceSession; provider: ExecutionProvider; skipped: SkippedProvider[] }> {
  checkModelFile(modelPath);
  // A batch-agnostic model run batched loads its graph with the batch dimension rewritten (dynamic-batch.ts).
  let model: Uint8Array | undefined;
  if (needsBatchRewrite(entry)) {
    try {
      model = makeBatchDynamic(readFileSync(modelPath), entry.input.name);
    } catch (err) {
      throw new ModelError('MODEL_INVALID', `${modelPath}: ${(err as Error).message}`, { cause: err });
    }
  }
  const skipped: SkippedProvider[] = [];
  for (const provider of config.providers) {
    try {
      const options = sessionOptionsFor(provider, entry, config);
      const session = model
        ? await ort.InferenceSession.create(model, options)
        : await ort.InferenceSession.create(modelPath, options);
      return { session, provider, skipped };
    } catch (err) {
      const message = (err as Error)?.message ?? String(err);
      if (provider === 'cpu' || !PROVIDER_MISSING.test(message)) throw modelLoadError(modelPath, err);
      skipped.push({ provider, reason: message });
      log?.warn(
        { provider, model: entry.id, reason: message },
        `execution provider ${provider} unavailable, skipped`,
      );
    }
  }
  throw new InferenceError(
    'PROVIDER_UNAVAILABLE',
    `No execution provider could run ${entry.id}: ${skipped.map((s) => `${s.provider} (${s.reason})`).join('; ')}`,
  );
}

/**
 * Run `session` on `n` images already in `input` (laid out as the manifest says) and return its outputs;
 * an ONNX Runtime failure becomes INFERENCE_FAILED naming the model.
 */
export async function runImages(
  session: ort.InferenceSession,
  entry: Pick<ModelEntry, 'id' | 'input' | 'preprocess'>,
  input: Float32Array,
  n: number,
  size: { width: number; height: number; channels: number },
): Promise<ort.InferenceSession.ReturnType> {
  const { width, height, channels } = size;
  const dims =
    entry.preprocess.layout === 'NCHW' ? [n, channels, height, width] : [n, height, width, channels];
  const tensor = new ort.Tensor('float32', input.subarray(0, n * width * height * channels), dims);
  try {
    return await session.run({ [entry.input.name]: tensor });
  } catch (err) {
    throw new InferenceError('INFERENCE_FAILED', `Model ${entry.id} run failed: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
