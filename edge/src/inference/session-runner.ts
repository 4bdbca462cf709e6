/** One ONNX Runtime session of a detection model plus its preprocessing and output decoding: frames in, detections out. */
import type { ExecutionProvider } from '@sightline/shared';
import { ClosedError } from '@sightline/shared/errors';
import { createDetectionAdapter, type DetectionAdapter, type OutputMap } from '../adapters/adapter.ts';
import type { DecodeOptions } from '../adapters/types.ts';
import type { Geometry } from '../preprocess/geometry.ts';
import { ModelSession } from './model-session.ts';
import type { FramePixels, InferResult, WorkerInit } from './protocol.ts';
import type { ProviderLog, SkippedProvider } from './providers.ts';

export class SessionRunner {
  readonly provider: ExecutionProvider;
  readonly skipped: SkippedProvider[];
  readonly maxBatch: number;
  readonly #session: ModelSession;
  readonly #adapter: DetectionAdapter;
  readonly #index: number;

  private constructor(init: WorkerInit, session: ModelSession) {
    this.#session = session;
    this.provider = session.provider;
    this.skipped = session.skipped;
    this.#index = init.index;
    this.maxBatch = init.maxBatch;
    this.#adapter = createDetectionAdapter(init.entry, init.labels);
  }

  /** Load the model on the first working provider. */
  static async create(init: WorkerInit, log?: ProviderLog): Promise<SessionRunner> {
    const session = await ModelSession.open(
      'SessionRunner',
      { modelPath: init.modelPath, entry: init.entry, config: init.config, batch: init.maxBatch },
      log,
    );
    try {
      return new SessionRunner(init, session);
    } catch (err) {
      await session.close();
      throw err;
    }
  }

  /** Preprocess, run and decode one batch. Blocks the calling thread for the ONNX Runtime run. */
  async run(frames: readonly FramePixels[], decode: DecodeOptions): Promise<InferResult[]> {
    const session = this.#session;
    if (session.closed) throw new ClosedError('SessionRunner');
    const n = frames.length;
    if (n < 1 || n > this.maxBatch) {
      throw new RangeError(`Expected 1..${this.maxBatch} frames per batch but received ${n}`);
    }
    const t0 = performance.now();
    const geometries: Geometry[] = frames.map((f, i) => session.prepare(f, i));
    const t1 = performance.now();
    const out = await session.run(n);
    const t2 = performance.now();
    const outputs: Record<string, { data: Float32Array; dims: readonly number[] }> = {};
    for (const [name, value] of Object.entries(out)) {
      if (value.type !== 'float32') continue;
      outputs[name] = { data: value.data as Float32Array, dims: value.dims };
    }
    const detections = geometries.map((g, i) => this.#adapter.decode(outputs as OutputMap, i, g, decode));
    const t3 = performance.now();
    for (const value of Object.values(out)) value.dispose?.();
    return detections.map((d, i) => ({
      detections: d,
      geometry: geometries[i]!,
      preprocessMs: (t1 - t0) / n,
      inferMs: (t2 - t1) / n,
      postprocessMs: (t3 - t2) / n,
      batchSize: n,
      session: this.#index,
    }));
  }

  /** Release the ONNX Runtime session. Safe to call twice. */
  close(): Promise<void> {
    return this.#session.close();
  }
}
