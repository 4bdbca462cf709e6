/** Gathers crops (re-ID, classification) from every stream into shared model batches. */
import { InferenceError } from '@sightline/shared';
import type { ImageBuffer } from '../frame.ts';

/** Runs one batch of crops (at most `maxBatch`) and returns one answer per crop (an embedding, labels), in order. */
export type RunBatch<T = Float32Array> = (crops: ImageBuffer[]) => Promise<T[]>;

export interface CropBatcherOptions {
  /** Most crops per model call. Default 32. */
  maxBatch?: number;
  /** Batches running at once (one per session keeps every session busy). Default 1. */
  concurrency?: number;
}

interface Request<T> {
  crops: ImageBuffer[];
  out: (T | undefined)[];
  /** Crops of this request not yet sent. */
  next: number;
  /** Crops of this request not yet answered. */
  open: number;
  failed?: Error;
  resolve: (e: T[]) => void;
  reject: (e: Error) => void;
}

/**
 * Crops wait only while every batch slot is busy: an idle model gets what is queued at once, and under load the
 * crops of several requests (in the edge: one frame of each waiting stream) pile up and go together, up to
 * maxBatch per call. Requests may
 * be split across calls; each resolves with its embeddings in order once all of them are back.
 */
export class CropBatcher<T = Float32Array> {
  readonly #run: RunBatch<T>;
  readonly #maxBatch: number;
  readonly #concurrency: number;
  readonly #queue: Request<T>[] = [];
  #running = 0;
  /** Model calls made and crops sent, for batch-size statistics. */
  calls = 0;
  crops = 0;

  constructor(run: RunBatch<T>, options: CropBatcherOptions = {}) {
    this.#run = run;
    this.#maxBatch = positive(options.maxBatch ?? 32, 'maxBatch');
    this.#concurrency = positive(options.concurrency ?? 1, 'concurrency');
  }

  /** Crops waiting for a batch slot. */
  get queued(): number {
    return this.#queue.reduce((n, r) => n + r.crops.length - r.next, 0);
  }

  /** Embeddings of `crops`, in order. Rejects with the batch's error when a call that carried one of them fails. */
  embed(crops: ImageBuffer[]): Promise<T[]> {
    if (crops.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.#queue.push({ crops, out: new Array(crops.length), next: 0, open: crops.length, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#running < this.#concurrency && this.#queue.length) {
      const parts: { req: Request<T>; from: number; to: number }[] = [];
      let room = this.#maxBatch;
      while (room > 0 && this.#queue.length) {
        const req = this.#queue[0] as Request<T>;
        const from = req.next;
        const to = Math.min(req.crops.length, from + room);
        parts.push({ req, from, to });
        req.next = to;
        room -= to - from;
        if (to === req.crops.length) this.#queue.shift();
      }
      const batch = parts.flatMap((p) => p.req.crops.slice(p.from, p.to));
      this.#running++;
      this.calls++;
      this.crops += batch.length;
      const settle = (embeddings: T[] | undefined, err?: Error): void => {
        this.#running--;
        let k = 0;
        for (const { req, from, to } of parts) {
          for (let i = from; i < to; i++) req.out[i] = embeddings?.[k++];
          if (err) req.failed ??= err;
          req.open -= to - from;
          if (req.open > 0) continue;
          if (req.failed) req.reject(req.failed);
          else req.resolve(req.out as T[]);
        }
        this.#pump();
      };
      this.#run(batch).then(
        (e) => {
          if (e.length !== batch.length)
            settle(
              undefined,
              new InferenceError(
                'INFERENCE_FAILED',
                `Expected ${batch.length} embeddings but received ${e.length}`,
              ),
            );
          else settle(e);
        },
        (err: unknown) =>
          settle(undefined, err instanceof Error ? err : new InferenceError('INFERENCE_FAILED', String(err))),
      );
    }
  }
}

function positive(v: number, name: string): number {
  if (!Number.isInteger(v) || v < 1)
    throw new RangeError(`Expected a positive integer for ${name} but received ${v}`);
  return v;
}
