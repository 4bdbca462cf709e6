/**
 * The fan-out of tracked results: every sink, the runtime's 'result' listeners, then the thumbnail stage. A sink or
 * listener that throws is logged and never stops the others (a failing sink logs once, then a summary).
 */
import { describeError, type FrameResult, type Logger, type SinkConfig } from '@sightline/shared';
import type { CropSource } from '../preprocess/crop.ts';
import { createSink } from '../sinks/create-sink.ts';
import type { Sink } from '../sinks/sink.ts';
import { FailureLog } from './failure-log.ts';

export interface ResultFanoutOptions {
  log: Logger;
  /** Hands a result to the runtime's listeners (may throw: logged). */
  emit: (result: FrameResult) => void;
  /** Offers a result with its frame's pixels for a thumbnail (may throw: logged). Default: none. */
  offerThumbnail?: (pixels: CropSource, result: FrameResult) => void;
}

export class ResultFanout {
  #sinks: Sink[] = [];
  readonly #log: Logger;
  readonly #emit: ResultFanoutOptions['emit'];
  readonly #offerThumbnail: ResultFanoutOptions['offerThumbnail'];
  /** A sink that throws on every frame logs once, then a summary at most every 10 s. */
  readonly #failures: FailureLog<Sink>;

  constructor(options: ResultFanoutOptions) {
    this.#log = options.log;
    this.#emit = options.emit;
    this.#offerThumbnail = options.offerThumbnail;
    this.#failures = new FailureLog<Sink>(options.log, 'sink write failed');
  }

  /** Open every sink; when one fails, close those that opened (instead of leaking their files) and reject. */
  async openSinks(configs: readonly SinkConfig[]): Promise<void> {
    const opened = await Promise.allSettled(configs.map((s) => createSink(s)));
    const sinks = opened.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = opened.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await Promise.allSettled(sinks.map((s) => s.close()));
      throw failed.reason;
    }
    this.#sinks = sinks;
  }

  /** Publish one tracked frame: to the sinks, the listeners, then (with its pixels) the thumbnail stage. */
  publish(result: FrameResult, thumbPixels?: CropSource): void {
    for (const sink of this.#sinks) {
      try {
        sink.write(result);
      } catch (err) {
        this.#failures.failed(sink, err, { sink: sink.constructor.name });
      }
    }
    try {
      this.#emit(result);
    } catch (err) {
      // A throwing listener must not end up as an unhandled rejection in the inference promise chain.
      this.#log.error({ err: describeError(err) }, "a 'result' listener threw");
    }
    if (thumbPixels && this.#offerThumbnail) {
      try {
        this.#offerThumbnail(thumbPixels, result);
      } catch (err) {
        this.#log.error({ stream: result.streamId, err: describeError(err) }, 'thumbnail crop failed');
      }
    }
  }

  /** Flush every sink; a failed flush (e.g. disk full) is logged, never a rejection. */
  async flush(): Promise<void> {
    await Promise.all(this.#sinks.map((s) => s.flush())).catch((err: unknown) =>
      this.#log.error({ err: describeError(err) }, 'sink flush failed'),
    );
  }

  /** Log the summary of sink failures and close every sink. */
  async close(): Promise<void> {
    this.#failures.flush();
    await Promise.all(this.#sinks.map((s) => s.close()));
  }
}
