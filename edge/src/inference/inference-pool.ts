/**
 * A pool of ONNX Runtime sessions in worker threads, never blocking the event loop: frames in, detections out
 * (or crops in, embeddings out; images in, classes out; frames in, class maps out: see poolMethod).
 */
import type { Worker } from 'node:worker_threads';
import {
  ClosedError,
  childLogger,
  type ExecutionProvider,
  InferenceConfig,
  InferenceError,
  type SightlineError,
  TypedEmitter,
} from '@sightline/shared';
import type { DecodeOptions } from '../adapters/types.ts';
import type { DecodedFrame, ImageBuffer } from '../frame.ts';
import type { InferenceBackend, InferenceBackendOptions, PoolLogger } from './backend.ts';
import { inputGeometry } from './model-session.ts';
import { type PoolMethod, packedImages, transferable, wrongMethod } from './pool-requests.ts';
import { retireWorker, spawnWorker, stopWorker } from './pool-workers.ts';
import type {
  ClassifyResult,
  EmbedResult,
  FramePixels,
  FromWorker,
  ImagePixels,
  InferResult,
  SegmentResult,
  ToWorker,
  WorkerInit,
} from './protocol.ts';
import { fromWire } from './protocol.ts';
import { applyTensorrtEnvironment, isDynamicBatch } from './providers.ts';

export type { PoolLogger } from './backend.ts';
export { type PoolMethod, poolMethod } from './pool-requests.ts';
export type { ClassifyResult, EmbedResult, InferResult, SegmentResult } from './protocol.ts';

/** Whether a session's pixel kernels (native or TypeScript, docs/native.md) were logged: once per process. */
let kernelsLogged = false;

export interface InferencePoolOptions extends InferenceBackendOptions {
  /**
   * The module each session's worker thread runs. Default: session-worker beside this module. A module of your
   * own (e.g. one that sets up instrumentation or fault injection, then imports session-worker) fits.
   */
  workerUrl?: URL;
}

/** Events of the pool. */
export type InferencePoolEvents = {
  /** A request finished or a session became ready: `freeSlots` requests can be sent without queueing. */
  slot: [freeSlots: number];
  /**
   * A session worker died, or hung (code INFERENCE_TIMEOUT: it answered nothing for `requestTimeoutMs`): its
   * pending requests were rejected with `error`, the worker was told to end, and a replacement is starting.
   */
  'session-crash': [index: number, error: SightlineError];
  /** A replacement session is ready. */
  'session-restart': [index: number];
  /** Every session failed its restarts: queued and later infer() calls reject with this error. */
  failed: [error: InferenceError];
  close: [];
};

/** What a worker answers a request with. */
type Answer = InferResult[] | EmbedResult | ClassifyResult | SegmentResult[];

interface Pending {
  id: number;
  resolve: (r: Answer) => void;
  reject: (e: Error) => void;
}

/** A request waiting for a session: the message to send (its id filled in at dispatch) and its buffers. */
interface Queued {
  message: (id: number) => ToWorker;
  transfer: ArrayBuffer[];
  resolve: (r: Answer) => void;
  reject: (e: Error) => void;
}

interface Session {
  index: number;
  worker: Worker;
  ready: boolean;
  pending: Map<number, Pending>;
  restarts: number;
  /** The provider the worker loaded the model on (known once ready). */
  provider?: ExecutionProvider;
  /** The session has answered at least one request. */
  answered: boolean;
  /** Fires when the session holds requests and has answered none for requestTimeoutMs. */
  watchdog?: NodeJS.Timeout;
}

const MAX_RESTARTS = 3;

export class InferencePool extends TypedEmitter<InferencePoolEvents> implements InferenceBackend {
  /** Largest batch one infer() call may carry: config.batchSize for dynamic-batch models, 1 otherwise. */
  readonly maxBatch: number;
  /** Model input size, so sources can pre-scale frames to it. */
  readonly inputSize: { width: number; height: number };
  readonly #config: InferenceConfig;
  readonly #options: InferencePoolOptions;
  readonly #log: PoolLogger;
  readonly #decode: DecodeOptions;
  readonly #sessions: (Session | undefined)[] = [];
  readonly #queue: Queued[] = [];
  #provider: ExecutionProvider | 'none' = 'none';
  #nextId = 1;
  #closed = false;
  /** Sessions that failed MAX_RESTARTS restarts in a row. */
  readonly #givenUp = new Set<number>();
  /** Timers of restarts waiting to retry; referenced so they run while the pool is open, cleared by close(). */
  readonly #retryTimers = new Set<NodeJS.Timeout>();
  /** Workers of hung or crashed sessions that have not exited yet (a timed-out run may still be finishing). */
  readonly #retired = new Set<Worker>();
  #failed: InferenceError | undefined;

  private constructor(options: InferencePoolOptions, config: InferenceConfig) {
    super();
    this.#options = options;
    this.#config = config;
    this.#log = options.logger ?? childLogger('inference', { model: options.model.id });
    this.#decode = {
      confidence: options.detector?.confidence ?? 0.5,
      iou: options.detector?.iou ?? 0.45,
      ...(options.detector?.classes ? { classes: options.detector.classes } : {}),
    };
    this.maxBatch = isDynamicBatch(options.model) ? Math.min(config.batchSize, options.model.maxBatch) : 1;
    const { width, height } = inputGeometry(options.model);
    this.inputSize = { width, height };
  }

  /** Start `inference.sessions` workers and wait until every one has loaded the model. */
  static async create(options: InferencePoolOptions): Promise<InferencePool> {
    const config = InferenceConfig.parse(options.inference ?? {});
    applyTensorrtEnvironment(options.model, config);
    const pool = new InferencePool(options, config);
    try {
      await Promise.all(Array.from({ length: config.sessions }, (_, i) => pool.#start(i)));
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  /** The execution provider the sessions actually use. */
  get provider(): ExecutionProvider | 'none' {
    return this.#provider;
  }

  /** Requests that can be sent now without waiting in the pool's queue. */
  get freeSlots(): number {
    if (this.#closed) return 0;
    let free = 0;
    for (const s of this.#sessions) {
      if (s?.ready) free += Math.max(0, this.#config.inflightPerSession - s.pending.size);
    }
    return Math.max(0, free - this.#queue.length);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Detect objects in up to `maxBatch` frames. The frames' pixel buffers are transferred to a worker
   * (they are unusable here afterwards). Results come back in the order of `frames`.
   */
  infer(frames: readonly DecodedFrame[], options?: Partial<DecodeOptions>): Promise<InferResult[]> {
    const refused = this.#refusal('infer');
    if (refused) return Promise.reject(refused);
    if (!Array.isArray(frames) || frames.length < 1 || frames.length > this.maxBatch) {
      return Promise.reject(
        new RangeError(`Expected 1..${this.maxBatch} frames for infer() but received ${frames?.length}`),
      );
    }
    const transfer: ArrayBuffer[] = [];
    const pixels = frames.map((f): FramePixels => {
      const data = transferable(f.data, transfer);
      return {
        data,
        width: f.width,
        height: f.height,
        sourceWidth: f.sourceWidth ?? f.width,
        sourceHeight: f.sourceHeight ?? f.height,
      };
    });
    const decode = { ...this.#decode, ...options };
    return this.#request((id) => ({ type: 'infer', id, frames: pixels, decode }), transfer) as Promise<
      InferResult[]
    >;
  }

  /**
   * Re-ID models (task "reid"): embed up to `maxBatch` packed BGR24 crops. Their buffers are transferred to a
   * worker (unusable here afterwards). Embeddings come back L2-normalised, in the order of `crops`.
   */
  embed(crops: readonly ImageBuffer[]): Promise<EmbedResult> {
    const refused = this.#refusal('embed');
    if (refused) return Promise.reject(refused);
    if (!Array.isArray(crops) || crops.length < 1 || crops.length > this.maxBatch) {
      return Promise.reject(
        new RangeError(`Expected 1..${this.maxBatch} crops for embed() but received ${crops?.length}`),
      );
    }
    const transfer: ArrayBuffer[] = [];
    const owned = crops.map((c) => {
      const data = transferable(c.data, transfer);
      return { data, width: c.width, height: c.height };
    });
    return this.#request((id) => ({ type: 'embed', id, crops: owned }), transfer) as Promise<EmbedResult>;
  }

  /**
   * Classification models (task "classification"): the top `topK` (default 5) classes of each packed BGR24 image,
   * best first. Any number of images, run `maxBatch` per model call in one session. Their buffers are transferred
   * to a worker (unusable here afterwards) unless the call is refused.
   */
  classify(images: readonly ImageBuffer[], options: { topK?: number } = {}): Promise<ClassifyResult> {
    const topK = options.topK ?? 5;
    const refused =
      this.#refusal('classify') ??
      (Number.isInteger(topK) && topK > 0
        ? undefined
        : new RangeError(`Expected a positive integer for topK but received ${topK} of type ${typeof topK}`));
    if (refused) return Promise.reject(refused);
    return this.#images('classify', images, (id, owned) => ({
      type: 'classify',
      id,
      images: owned,
      topK,
    })) as Promise<ClassifyResult>;
  }

  /**
   * Semantic-segmentation models (e.g. DeepLab): a class map and per-class areas per packed BGR24 frame, in order
   * (a frame's sourceWidth/sourceHeight, when it has them, set the geometry's source size). Any number of frames,
   * run `maxBatch` per model call in one session. Their buffers are transferred to a worker, the maps back.
   */
  segment(frames: readonly ImageBuffer[]): Promise<SegmentResult[]> {
    const refused = this.#refusal('segment');
    if (refused) return Promise.reject(refused);
    return this.#images('segment', frames, (id, owned) => ({
      type: 'segment',
      id,
      frames: owned,
    })) as Promise<SegmentResult[]>;
  }

  /** Why a `method` call is refused now (closed, failed, or a model that answers another call); else undefined. */
  #refusal(method: PoolMethod): Error | undefined {
    if (this.#closed) return new ClosedError('InferencePool');
    return this.#failed ?? wrongMethod(this.#options.model, method);
  }

  /** Check the packed images and queue the message `make` builds around them. */
  #images(
    method: PoolMethod,
    images: readonly ImageBuffer[],
    make: (id: number, owned: ImagePixels[]) => ToWorker,
  ): Promise<Answer> {
    const transfer: ArrayBuffer[] = [];
    let owned: ImagePixels[];
    try {
      owned = packedImages(images, method, transfer);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#request((id) => make(id, owned), transfer);
  }

  #request(message: (id: number) => ToWorker, transfer: ArrayBuffer[]): Promise<Answer> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ message, transfer, resolve, reject });
      this.#dispatch();
    });
  }

  /**
   * Reject pending and queued calls with ClosedError and end every worker after its run in progress (waiting at
   * most 10 s; a worker still inside a native run then ends by itself, unref'd). Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#retryTimers) clearTimeout(timer);
    this.#retryTimers.clear();
    const err = new ClosedError('InferencePool');
    for (const q of this.#queue.splice(0)) q.reject(err);
    const sessions = this.#sessions.splice(0).filter((s): s is Session => s !== undefined);
    for (const s of sessions) {
      clearTimeout(s.watchdog);
      for (const p of s.pending.values()) p.reject(err);
      s.pending.clear();
    }
    // Retired workers too: a process that exits while a thread is inside a native run aborts.
    await Promise.all([...sessions.map((s) => s.worker), ...this.#retired].map(stopWorker));
    this.#retired.clear();
    this.emit('close');
  }

  #dispatch(): void {
    while (this.#queue.length) {
      let best: Session | undefined;
      for (const s of this.#sessions) {
        if (!s?.ready || s.pending.size >= this.#config.inflightPerSession) continue;
        if (!best || s.pending.size < best.pending.size) best = s;
      }
      if (!best) return;
      const q = this.#queue.shift()!;
      const id = this.#nextId++;
      best.pending.set(id, { id, resolve: q.resolve, reject: q.reject });
      try {
        best.worker.postMessage(q.message(id), q.transfer);
        this.#watch(best);
      } catch (err) {
        best.pending.delete(id);
        q.reject(
          new InferenceError('INFERENCE_FAILED', `Cannot send frames to the inference worker: ${err}`),
        );
      }
    }
  }

  #start(index: number, restarts = 0): Promise<void> {
    const o = this.#options;
    const init: WorkerInit = {
      index,
      modelPath: o.modelPath,
      entry: o.model,
      labels: [...o.labels],
      config: this.#config,
      maxBatch: this.maxBatch,
    };
    const worker = spawnWorker(init, `sightline-inference-${index}`, o.workerUrl);
    const session: Session = { index, worker, ready: false, pending: new Map(), restarts, answered: false };
    this.#sessions[index] = session;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      worker.on('message', (m: FromWorker) => {
        switch (m.type) {
          case 'ready':
            session.ready = true;
            session.provider = m.provider;
            if (this.#provider === 'none') this.#provider = m.provider;
            if (m.kernels && !kernelsLogged) {
              kernelsLogged = true;
              this.#log.info({ kernels: m.kernels }, m.kernels);
            }
            settled = true;
            resolve();
            this.#dispatch();
            if (this.freeSlots > 0) this.emit('slot', this.freeSlots);
            break;
          case 'fatal':
            settled = true;
            reject(fromWire(m.error, `Inference session ${index} failed to start`));
            void worker.terminate();
            break;
          case 'log':
            this.#log[m.level]({ session: index, ...m.data }, m.message);
            break;
          case 'result':
          case 'embedded':
          case 'classified':
          case 'segmented':
          case 'error': {
            const p = session.pending.get(m.id);
            if (!p) break;
            session.pending.delete(m.id);
            if (m.type === 'error') p.reject(fromWire(m.error, `Inference failed in session ${index}`));
            else p.resolve(m.type === 'embedded' || m.type === 'classified' ? m.result : m.results);
            session.restarts = 0;
            session.answered = true;
            this.#watch(session, true);
            this.#dispatch();
            if (this.freeSlots > 0) this.emit('slot', this.freeSlots);
            break;
          }
        }
      });
      const died = (why: string) => {
        if (this.#sessions[index] !== session) return;
        const error = new InferenceError('INFERENCE_FAILED', `Inference session ${index} crashed: ${why}`);
        if (!settled) {
          settled = true;
          reject(error);
        }
        this.#onCrash(session, error);
      };
      worker.on('error', (err) => died(err.message));
      worker.on('exit', (code) => died(`worker exited with code ${code}`));
    });
  }

  /**
   * (Re)arm the session's watchdog while it holds requests: `fresh` restarts the wait (after an answer, the next
   * request starts running). A TensorRT session's first run may build the engine for minutes, so it is exempt.
   */
  #watch(session: Session, fresh = false): void {
    if (fresh || session.pending.size === 0) {
      clearTimeout(session.watchdog);
      session.watchdog = undefined;
    }
    if (session.pending.size === 0 || session.watchdog !== undefined) return;
    if (session.provider === 'tensorrt' && !session.answered) return;
    const ms = this.#config.requestTimeoutMs;
    session.watchdog = setTimeout(() => this.#onHang(session, ms), ms);
  }

  #onHang(session: Session, ms: number): void {
    session.watchdog = undefined;
    if (this.#sessions[session.index] !== session) return;
    const error = new InferenceError(
      'INFERENCE_TIMEOUT',
      `Inference session ${session.index} answered no request for ${ms} ms (inference.requestTimeoutMs)`,
    );
    this.#onCrash(session, error);
  }

  #onCrash(session: Session, error: InferenceError): void {
    if (this.#closed) return;
    this.#sessions[session.index] = undefined;
    clearTimeout(session.watchdog);
    for (const p of session.pending.values()) p.reject(error);
    session.pending.clear();
    this.#retire(session.worker);
    if (!session.ready) return; // a start failure is reported to whoever started it
    const what = error.code === 'INFERENCE_TIMEOUT' ? 'hung' : 'crashed';
    this.#log.error(
      { session: session.index, err: error.message },
      `inference session ${what}; replacing it`,
    );
    this.emit('session-crash', session.index, error);
    this.#restart(session.index, session.restarts + 1, error.message);
  }

  /** Let a worker end by itself after its run in progress; close() waits for it (see retireWorker). */
  #retire(worker: Worker): void {
    retireWorker(worker);
    if (worker.threadId < 0) return; // already exited
    this.#retired.add(worker);
    worker.once('exit', () => this.#retired.delete(worker));
  }

  #restart(index: number, attempt: number, lastError?: string): void {
    if (this.#closed) return;
    if (attempt > MAX_RESTARTS) {
      this.#log.error(
        { session: index },
        `inference session failed ${MAX_RESTARTS} restarts; giving up on it`,
      );
      // Count given-up sessions rather than empty slots: an empty slot may be a session waiting to retry.
      this.#givenUp.add(index);
      if (this.#givenUp.size >= this.#config.sessions) {
        this.#failed = new InferenceError(
          'INFERENCE_FAILED',
          `Every inference session crashed and could not be restarted${lastError ? `: ${lastError}` : ''}`,
        );
        for (const q of this.#queue.splice(0)) q.reject(this.#failed);
        this.emit('failed', this.#failed);
      }
      return;
    }
    this.#start(index, attempt).then(
      () => this.emit('session-restart', index),
      (err: Error) => {
        this.#log.error({ session: index, err: err.message }, 'inference session restart failed');
        const timer = setTimeout(() => {
          this.#retryTimers.delete(timer);
          this.#restart(index, attempt + 1, err.message);
        }, 250 * attempt);
        this.#retryTimers.add(timer);
      },
    );
  }
}
