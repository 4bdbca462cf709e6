/** One ONNX Runtime session of an image classifier: packed BGR24 images (crops or frames) in, top-k classes out. */
import type { ClassLabel, ExecutionProvider, InferenceConfig, ModelEntry } from '@sightline/shared';
import { ClosedError, ModelError } from '@sightline/shared/errors';
import { type ClassifierAdapter, createClassificationAdapter } from '../adapters/classifier.ts';
import type { ImageBuffer } from '../frame.ts';
import { ModelSession } from './model-session.ts';
import type { ClassifyResult } from './protocol.ts';
import { isDynamicBatch, type ProviderLog, type SkippedProvider } from './providers.ts';
import { floatOutputs, runnerBatch } from './runner-common.ts';

/** What a classifier session is created with. */
export interface ClassifierInit {
  modelPath: string;
  entry: ModelEntry;
  /** Class names in output order (e.g. imagenet_classes). */
  labels: readonly string[];
  /** Providers and threads (batchSize is ignored; see maxBatch). */
  config: InferenceConfig;
  /** Images per model call for dynamic-batch models (static-batch models take their own batch). Default 32. */
  maxBatch?: number;
}

export class ClassifierRunner {
  readonly provider: ExecutionProvider;
  /** Providers asked for but not usable, and why. */
  readonly skipped: SkippedProvider[];
  /** Images per model call. */
  readonly batch: number;
  readonly #session: ModelSession;
  readonly #adapter: ClassifierAdapter;

  private constructor(session: ModelSession, adapter: ClassifierAdapter) {
    this.#session = session;
    this.#adapter = adapter;
    this.provider = session.provider;
    this.skipped = session.skipped;
    this.batch = session.batch;
  }

  /** Load a classification model (task "classification", adapter "classifier") on the first working provider. */
  static async create(init: ClassifierInit, log?: ProviderLog): Promise<ClassifierRunner> {
    if (init.entry.task !== 'classification') {
      throw new ModelError(
        'MODEL_INVALID',
        `Model ${init.entry.id} is a ${init.entry.task} model (adapter ${init.entry.adapter}), not a classification model`,
      );
    }
    const adapter = createClassificationAdapter(init.entry, init.labels);
    const session = await ModelSession.open(
      'ClassifierRunner',
      { modelPath: init.modelPath, entry: init.entry, config: init.config, batch: runnerBatch(init) },
      log,
    );
    return new ClassifierRunner(session, adapter);
  }

  /**
   * The `topK` (default 5) most probable classes of every image, best first, `batch` images per model call.
   * Blocks the calling thread while ONNX Runtime runs.
   */
  async run(images: readonly ImageBuffer[], topK = 5): Promise<ClassifyResult> {
    const session = this.#session;
    if (session.closed) throw new ClosedError('ClassifierRunner');
    const labels: ClassLabel[][] = [];
    let preprocessMs = 0;
    let inferMs = 0;
    for (let start = 0; start < images.length; start += this.batch) {
      const chunk = images.slice(start, start + this.batch);
      const t0 = performance.now();
      chunk.forEach((image, i) => {
        session.prepare(image, i);
      });
      const t1 = performance.now();
      // Static-batch models always run their full batch; the unused rows are ignored.
      const out = await session.run(isDynamicBatch(session.entry) ? chunk.length : this.batch);
      try {
        const outputs = floatOutputs(out);
        for (let i = 0; i < chunk.length; i++) labels.push(this.#adapter.decode(outputs, i, { topK }));
      } finally {
        for (const v of Object.values(out)) v.dispose?.();
      }
      preprocessMs += t1 - t0;
      inferMs += performance.now() - t1;
    }
    return { labels, preprocessMs, inferMs };
  }

  /** Release the ONNX Runtime session. Safe to call twice. */
  close(): Promise<void> {
    return this.#session.close();
  }
}
