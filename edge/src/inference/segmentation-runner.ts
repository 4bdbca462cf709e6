/** One ONNX Runtime session of a semantic-segmentation model (DeepLab): frames in, class maps and class areas out. */
import type { ExecutionProvider, InferenceConfig, ModelEntry } from '@sightline/shared';
import { ClosedError } from '@sightline/shared/errors';
import { createSegmentationAdapter, type SegmentationAdapter } from '../adapters/segmentation.ts';
import type { Geometry } from '../preprocess/geometry.ts';
import { ModelSession } from './model-session.ts';
import type { ImagePixels, SegmentResult } from './protocol.ts';
import { isDynamicBatch, type ProviderLog, type SkippedProvider } from './providers.ts';
import { floatOutputs, runnerBatch } from './runner-common.ts';

/** What a segmentation session is created with. */
export interface SegmentationInit {
  modelPath: string;
  entry: ModelEntry;
  /** Class names in output order (e.g. voc21). */
  labels: readonly string[];
  /** Providers and threads (batchSize is ignored; see maxBatch). */
  config: InferenceConfig;
  /** Frames per model call for dynamic-batch models (static-batch models take their own batch). Default 32. */
  maxBatch?: number;
}

export class SegmentationRunner {
  readonly provider: ExecutionProvider;
  /** Providers asked for but not usable, and why. */
  readonly skipped: SkippedProvider[];
  /** Frames per model call. */
  readonly batch: number;
  readonly #session: ModelSession;
  readonly #adapter: SegmentationAdapter;

  private constructor(session: ModelSession, adapter: SegmentationAdapter) {
    this.#session = session;
    this.#adapter = adapter;
    this.provider = session.provider;
    this.skipped = session.skipped;
    this.batch = session.batch;
  }

  /** Load a semantic-segmentation model (adapter "deeplab") on the first working provider. */
  static async create(init: SegmentationInit, log?: ProviderLog): Promise<SegmentationRunner> {
    const adapter = createSegmentationAdapter(init.entry, init.labels);
    const session = await ModelSession.open(
      'SegmentationRunner',
      { modelPath: init.modelPath, entry: init.entry, config: init.config, batch: runnerBatch(init) },
      log,
    );
    return new SegmentationRunner(session, adapter);
  }

  /**
   * Segment every frame, `batch` frames per model call; results in the order of `frames`, each with its share of
   * its batch's stage times. Blocks the calling thread while ONNX Runtime runs.
   */
  async run(frames: readonly ImagePixels[]): Promise<SegmentResult[]> {
    const session = this.#session;
    if (session.closed) throw new ClosedError('SegmentationRunner');
    const results: SegmentResult[] = [];
    for (let start = 0; start < frames.length; start += this.batch) {
      const chunk = frames.slice(start, start + this.batch);
      const n = chunk.length;
      const t0 = performance.now();
      const geometries: Geometry[] = chunk.map((f, i) => session.prepare(f, i));
      const t1 = performance.now();
      // Static-batch models always run their full batch; the unused rows are ignored.
      const out = await session.run(isDynamicBatch(session.entry) ? n : this.batch);
      const t2 = performance.now();
      try {
        const outputs = floatOutputs(out);
        const decoded = geometries.map((g, i) => this.#adapter.decode(outputs, i, g));
        const t3 = performance.now();
        for (const d of decoded) {
          results.push({
            classMap: d.classMap,
            width: d.width,
            height: d.height,
            classes: d.classes,
            geometry: d.geometry,
            region: d.region,
            preprocessMs: (t1 - t0) / n,
            inferMs: (t2 - t1) / n,
            postprocessMs: (t3 - t2) / n,
          });
        }
      } finally {
        for (const v of Object.values(out)) v.dispose?.();
      }
    }
    return results;
  }

  /** Release the ONNX Runtime session. Safe to call twice. */
  close(): Promise<void> {
    return this.#session.close();
  }
}
