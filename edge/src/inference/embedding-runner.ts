/** One ONNX Runtime session of a re-ID model: person crops in, L2-normalised embeddings out. */
import type { ExecutionProvider, InferenceConfig, ModelEntry } from '@sightline/shared';
import { ClosedError, ModelError } from '@sightline/shared/errors';
import type { ImageBuffer } from '../frame.ts';
import { l2Normalise } from '../vector.ts';
import { ModelSession } from './model-session.ts';
import { isDynamicBatch, type ProviderLog, type SkippedProvider } from './providers.ts';

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
  readonly #session: ModelSession;
  readonly #entry: ModelEntry;

  private constructor(entry: ModelEntry, session: ModelSession) {
    this.#session = session;
    this.#entry = entry;
    this.provider = session.provider;
    this.skipped = session.skipped;
    this.batch = session.batch;
    const dims = entry.outputs[0]?.shape ?? [];
    this.dimensions = dims[dims.length - 1] ?? 0;
  }

  /** Load a re-ID model (task "reid", adapter "embedding") on the first working provider. */
  static async create(init: EmbeddingInit, log?: ProviderLog): Promise<EmbeddingRunner> {
    if (init.entry.task !== 'reid' || init.entry.adapter !== 'embedding') {
      throw new ModelError(
        'MODEL_INVALID',
        `Model ${init.entry.id} is a ${init.entry.task} model (adapter ${init.entry.adapter}), not a re-ID embedding model`,
      );
    }
    const batch = isDynamicBatch(init.entry)
      ? Math.max(1, init.maxBatch ?? 32)
      : Math.max(1, init.entry.input.shape[0]!);
    const session = await ModelSession.open(
      'EmbeddingRunner',
      { modelPath: init.modelPath, entry: init.entry, config: init.config, batch },
      log,
    );
    return new EmbeddingRunner(init.entry, session);
  }

  /** Embed every crop, `batch` crops per model call. Blocks the calling thread while ONNX Runtime runs. */
  async run(crops: readonly ImageBuffer[]): Promise<EmbeddingResult> {
    if (this.#session.closed) throw new ClosedError('EmbeddingRunner');
    const embeddings: Float32Array[] = [];
    let preprocessMs = 0;
    let inferMs = 0;
    for (let start = 0; start < crops.length; start += this.batch) {
      const chunk = crops.slice(start, start + this.batch);
      // Static-batch models always run their full batch; the unused rows are ignored.
      const n = isDynamicBatch(this.#entry) ? chunk.length : this.batch;
      const t0 = performance.now();
      chunk.forEach((crop, i) => {
        this.#session.prepare(crop, i);
      });
      const t1 = performance.now();
      const out = await this.#session.run(n);
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
  close(): Promise<void> {
    return this.#session.close();
  }
}
