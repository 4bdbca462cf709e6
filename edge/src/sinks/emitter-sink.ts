/** In-process sink: re-emits each FrameResult as a typed 'result' event (hub uplink, WebRTC metadata channel). */
import {
  ClosedError,
  childLogger,
  describeError,
  type FrameResult,
  type Logger,
  TypedEmitter,
} from '@sightline/shared';
import type { Sink } from './sink.ts';

/** Events of an EmitterSink. */
export type EmitterSinkEvents = {
  /** One processed frame. */
  result: [FrameResult];
  /** The sink closed; no more results. */
  close: [];
};

type Listener = (this: unknown, result: FrameResult) => unknown;

/**
 * Calls every 'result' listener with each result, each one isolated: a listener that throws (or returns a
 * promise that rejects) is logged and counted in `listenerErrors`; the other listeners and the pipeline go on.
 */
export class EmitterSink extends TypedEmitter<EmitterSinkEvents> implements Sink {
  readonly #log: Logger = childLogger('sink', { type: 'emitter' });
  #closed = false;
  #listenerErrors = 0;

  get closed(): boolean {
    return this.#closed;
  }

  /** Listener calls that threw or rejected. */
  get listenerErrors(): number {
    return this.#listenerErrors;
  }

  write(result: FrameResult): void {
    if (this.#closed) throw new ClosedError('Emitter sink');
    // rawListeners keeps once() wrappers, so calling them removes one-shot listeners as emit() would.
    for (const listener of this.rawListeners('result') as Listener[]) {
      try {
        const ret = listener.call(this, result);
        if (ret instanceof Promise) ret.catch((err: unknown) => this.#listenerFailed(err, result));
      } catch (err) {
        this.#listenerFailed(err, result);
      }
    }
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.emit('close');
    this.removeAllListeners();
  }

  #listenerFailed(err: unknown, result: FrameResult): void {
    const n = ++this.#listenerErrors;
    // The first failure and then every 1000th, so a broken listener cannot flood the log at frame rate.
    if (n === 1 || n % 1000 === 0) {
      this.#log.warn(
        { err: describeError(err), streamId: result.streamId, seq: result.seq, listenerErrors: n },
        'a result listener threw; the pipeline goes on',
      );
    }
  }
}
