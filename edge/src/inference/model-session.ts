/** One ONNX Runtime session on the first working provider, with its input buffer: what every runner shares. */
import type { ExecutionProvider, InferenceConfig, ModelEntry } from '@sightline/shared';
import { ClosedError, ModelError } from '@sightline/shared/errors';
import type ort from 'onnxruntime-node';
import { kernels } from '../native/index.ts';
import type { Geometry } from '../preprocess/geometry.ts';
import type { PreprocessImage } from '../preprocess/preprocess.ts';
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

export class ModelSession {
  readonly provider: ExecutionProvider;
  /** Providers asked for but not usable, and why. */
  readonly skipped: SkippedProvider[];
  /** Images one run() holds at most (the input buffer's size). */
  readonly batch: number;
  readonly entry: ModelEntry;
  readonly size: { width: number; height: number; channels: number };
  readonly #session: ort.InferenceSession;
  readonly #input: Float32Array;
  readonly #name: string;
  #closed = false;

  private constructor(
    name: string,
    entry: ModelEntry,
    batch: number,
    created: { session: ort.InferenceSession; provider: ExecutionProvider; skipped: SkippedProvider[] },
  ) {
    this.#name = name;
    this.entry = entry;
    this.batch = batch;
    this.#session = created.session;
    this.provider = created.provider;
    this.skipped = created.skipped;
    this.size = inputGeometry(entry);
    const { width, height, channels } = this.size;
    this.#input = new Float32Array(batch * width * height * channels);
  }

  /**
   * Load `modelPath` on the first provider of `config.providers` that works, with an input buffer for `batch`
   * images. `name` is what ClosedError names (the runner's class).
   */
  static async open(
    name: string,
    options: { modelPath: string; entry: ModelEntry; config: InferenceConfig; batch: number },
    log?: ProviderLog,
  ): Promise<ModelSession> {
    inputGeometry(options.entry);
    const created = await createSession(options.modelPath, options.entry, options.config, log);
    try {
      return new ModelSession(name, options.entry, options.batch, created);
    } catch (err) {
      await created.session.release();
      throw err;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Preprocess `image` into row `i` of the input buffer; how model coordinates map to its source pixels. Runs the
   * native letterbox kernel when @sightline/native is loaded (bit-exact with preprocessInto, its fallback).
   */
  prepare(image: PreprocessImage, i: number): Geometry {
    if (this.#closed) throw new ClosedError(this.#name);
    const { width, height, channels } = this.size;
    return kernels.letterboxInto(
      image,
      this.entry.preprocess,
      { width, height },
      this.#input,
      i * width * height * channels,
    );
  }

  /** Run the model on the first `n` prepared images. Blocks the calling thread for the ONNX Runtime run. */
  run(n: number): Promise<ort.InferenceSession.ReturnType> {
    if (this.#closed) return Promise.reject(new ClosedError(this.#name));
    return runImages(this.#session, this.entry, this.#input, n, this.size);
  }

  /** Release the ONNX Runtime session. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#session.release();
  }
}
