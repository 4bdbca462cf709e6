/** One ONNX Runtime session of a re-ID model: person crops in, L2-normalised embeddings out. */
import type { ExecutionProvider, InferenceConfig, ModelEntry } from '@sightline/shared';
import { ClosedError, ModelError } from '@sightline/shared/errors';
import type ort from 'onnxruntime-node';
import type { ImageBuffer } from '../frame.ts';
import {
  createSession,
  isDynamicBatch,
  type ProviderLog,
  runImages,
  type SkippedProvider,
} from '../inference/providers.ts';
import { inputGeometry } from '../inference/session-runner.ts';
import { preprocessInto } from '../preprocess/preprocess.ts';
import { l2Normalise } from '../tracking/gallery.ts';

/** What an embedding session is created with. */
export interface EmbeddingInit {
  modelPath: string;
  entry: ModelEntry;
  /** Providers and threads (batchSize is ignored; see maxBatch). */
  config: InferenceConfig;
  /** Crops per model call for dynamic-batch models (static-batch models take their own batch). Default 32. */
  maxBatch?: number;
}

/** Embeddings of one call plus where the time went. */
export interface EmbeddingResult {
  /** One L2-normalised embedding per crop, in order. */
  embeddings: Float32Array[];
  preprocessMs: number;
  inferMs: number;
}

export class EmbeddingRunner {
  readonly provider: ExecutionProvider;
  /** Providers asked for but not usable, and why. */
  readonly skipped: SkippedProvider[];
  /** Crops per model call. */
  readonly batch: number;
  /** Embedding length. */
  readonly dimensions: number;
  readonly #session: ort.InferenceSession;
  readonly #entry: ModelEntry;
  readonly #size: { width: number; height: number; channels: number };
  readonly #input: Float32Array;
  #closed = false;

  private constructor(
    init: EmbeddingInit,
    session: ort.InferenceSession,
    provider: ExecutionProvider,
    skipped: SkippedProvider[],
  ) {
    this.#session = session;
    this.provider = provider;
    this.skipped = skipped;
    this.#entry = init.entry;
    this.#size = inputGeometry(init.entry);
    this.batch = isDynamicBatch(init.entry)
      ? Math.max(1, init.maxBatch ?? 32)
      : Math.max(1, init.entry.input.shape[0]!);
    const dims = init.entry.outputs[0]?.shape ?? [];
    this.dimensions = dims[dims.length - 1] ?? 0;
    const { width, height, channels } = this.#size;
    this.#input = new Float32Array(this.batch * width * height * channels);
  }

  /** Load a re-ID model (task "reid", adapter "embedding") on the first working provider. */
  static async create(init: EmbeddingInit, log?: ProviderLog): Promise<EmbeddingRunner> {
    if (init.entry.task !== 'reid' || init.entry.adapter !== 'embedding') {
      throw new ModelError(
        'MODEL_INVALID',
        `Model ${init.entry.id} is a ${init.entry.task} model (adapter ${init.entry.adapter}), not a re-ID embedding model`,
      );
    }
    inputGeometry(init.entry);
    const { session, provider, skipped } = await createSession(init.modelPath, init.entry, init.config, log);
    return new EmbeddingRunner(init, session, provider, skipped);
  }

  /** Embed every crop, `batch` crops per model call. Blocks the calling thread while ONNX Runtime runs. */
  async run(crops: readonly ImageBuffer[]): Promise<EmbeddingResult> {
    if (this.#closed) throw new ClosedError('EmbeddingRunner');
    const embeddings: Float32Array[] = [];
    let preprocessMs = 0;
    let inferMs = 0;
    const { width, height, channels } = this.#size;
    const per = width * height * channels;
    for (let start = 0; start < crops.length; start += this.batch) {
      const chunk = crops.slice(start, start + this.batch);
      // Static-batch models always run their full batch; the unused rows are ignored.
      const n = isDynamicBatch(this.#entry) ? chunk.length : this.batch;
      const t0 = performance.now();
      chunk.forEach((crop, i) => {
        preprocessInto(crop, this.#entry.preprocess, { width, height }, this.#input, i * per);
      });
      const t1 = performance.now();
      const out = await runImages(this.#session, this.#entry, this.#input, n, this.#size);
      const value = out[this.#entry.outputs[0]?.name ?? ''] ?? Object.values(out)[0];
      if (value?.type !== 'float32' || value.dims.length !== 2 || value.dims[0] !== n) {
        throw new ModelError(
          'MODEL_INVALID',
          `Model ${this.#entry.id} returned ${value ? `${value.type} [${value.dims.join(',')}]` : 'no output'}, expected float32 [${n}, D]`,
        );
      }
      const d = value.dims[1] as number;
      const data = value.data as Float32Array;
      for (let i = 0; i < chunk.length; i++) embeddings.push(l2Normalise(data.slice(i * d, (i + 1) * d)));
      for (const v of Object.values(out)) v.dispose?.();
      preprocessMs += t1 - t0;
      inferMs += performance.now() - t1;
    }
    return { embeddings, preprocessMs, inferMs };
  }

  /** Release the ONNX Runtime session. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#session.release();
  }
}
