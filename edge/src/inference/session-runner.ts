/** One ONNX Runtime session plus its preprocessing and output decoding: frames in, detections out. */
import type { ExecutionProvider, ModelEntry } from '@sightline/shared';
import { ClosedError, ModelError } from '@sightline/shared/errors';
import type ort from 'onnxruntime-node';
import { createDetectionAdapter, type DetectionAdapter, type OutputMap } from '../adapters/adapter.ts';
import type { DecodeOptions } from '../adapters/types.ts';
import type { Geometry } from '../preprocess/geometry.ts';
import { preprocessInto } from '../preprocess/preprocess.ts';
import type { FramePixels, InferResult, WorkerInit } from './protocol.ts';
import { createSession, type ProviderLog, runImages, type SkippedProvider } from './providers.ts';

/** Model input size and channel count from the manifest's input shape (NCHW or NHWC). */
export function inputGeometry(entry: Pick<ModelEntry, 'id' | 'input' | 'preprocess'>): {
  width: number;
  height: number;
  channels: number;
} {
  const s = entry.input.shape;
  const [c, h, w] = entry.preprocess.layout === 'NCHW' ? [s[1], s[2], s[3]] : [s[3], s[1], s[2]];
  if (s.length !== 4 || !(c! > 0 && h! > 0 && w! > 0)) {
    throw new ModelError(
      'MODEL_INVALID',
      `Model ${entry.id} input shape [${s.join(',')}] is not a fixed-size ${entry.preprocess.layout} image`,
    );
  }
  return { width: w!, height: h!, channels: c! };
}

export class SessionRunner {
  readonly provider: ExecutionProvider;
  readonly skipped: SkippedProvider[];
  readonly maxBatch: number;
  readonly #session: ort.InferenceSession;
  readonly #entry: ModelEntry;
  readonly #adapter: DetectionAdapter;
  readonly #size: { width: number; height: number; channels: number };
  readonly #input: Float32Array;
  readonly #index: number;
  #closed = false;

  private constructor(
    init: WorkerInit,
    session: ort.InferenceSession,
    provider: ExecutionProvider,
    skipped: SkippedProvider[],
  ) {
    this.#session = session;
    this.provider = provider;
    this.skipped = skipped;
    this.#entry = init.entry;
    this.#index = init.index;
    this.maxBatch = init.maxBatch;
    this.#adapter = createDetectionAdapter(init.entry, init.labels);
    this.#size = inputGeometry(init.entry);
    const { width, height, channels } = this.#size;
    this.#input = new Float32Array(init.maxBatch * width * height * channels);
  }

  /** Load the model on the first working provider. */
  static async create(init: WorkerInit, log?: ProviderLog): Promise<SessionRunner> {
    inputGeometry(init.entry);
    const { session, provider, skipped } = await createSession(init.modelPath, init.entry, init.config, log);
    try {
      return new SessionRunner(init, session, provider, skipped);
    } catch (err) {
      await session.release();
      throw err;
    }
  }

  /** Preprocess, run and decode one batch. Blocks the calling thread for the ONNX Runtime run. */
  async run(frames: readonly FramePixels[], decode: DecodeOptions): Promise<InferResult[]> {
    if (this.#closed) throw new ClosedError('SessionRunner');
    const n = frames.length;
    if (n < 1 || n > this.maxBatch) {
      throw new RangeError(`Expected 1..${this.maxBatch} frames per batch but received ${n}`);
    }
    const { width, height, channels } = this.#size;
    const per = width * height * channels;
    const t0 = performance.now();
    const geometries: Geometry[] = frames.map((f, i) =>
      preprocessInto(f, this.#entry.preprocess, { width, height }, this.#input, i * per),
    );
    const t1 = performance.now();
    const out = await runImages(this.#session, this.#entry, this.#input, n, this.#size);
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
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#session.release();
  }
}
