/** The node-av backend as seen from the main thread: one decode worker per stream, controlled through shared memory. */
import { once } from 'node:events';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../worker-thread.ts';
import { type Backend, type BackendMessage, CONTROL, type SessionRequest } from './protocol.ts';

/** Runs node-av sessions in a worker thread (its sync calls would otherwise block the event loop). */
export class WorkerBackend implements Backend {
  readonly #name: string;
  readonly #onMessage: (message: BackendMessage) => void;
  readonly #graceMs: number;
  #worker: Worker | undefined;
  #control = new Int32Array(new SharedArrayBuffer(CONTROL.length * 4));
  #closed = false;
  /** A session is open in the worker (so a crash must end it). */
  #busy = false;

  /** `graceMs`: how long close() waits for a blocking FFmpeg call to return before terminating the thread. */
  constructor(name: string, onMessage: (message: BackendMessage) => void, graceMs = 7000) {
    this.#name = name;
    this.#onMessage = onMessage;
    this.#graceMs = graceMs;
  }

  open(request: SessionRequest): void {
    if (this.#closed) return;
    this.#worker ??= this.#spawn();
    this.#busy = true;
    this.#worker.postMessage({ type: 'open', request });
  }

  release(count: number): void {
    Atomics.add(this.#control, CONTROL.released, count);
    Atomics.notify(this.#control, CONTROL.released);
  }

  requestKeyframe(): void {
    Atomics.add(this.#control, CONTROL.keyframe, 1);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    Atomics.store(this.#control, CONTROL.stop, 1);
    Atomics.notify(this.#control, CONTROL.released);
    const worker = this.#worker;
    this.#worker = undefined;
    if (!worker) return;
    // Let the session notice 'stop' and the worker end by itself: terminating a thread while it is inside a
    // node-av call aborts the whole process (napi_throw during termination is fatal).
    // once() rejects on an 'error' event; a worker that errors is ending anyway, so close() must not reject
    // (it would skip clearing the grace timer and abort the caller's close of everything else).
    const exited = once(worker, 'exit').then(
      () => true,
      () => true,
    );
    worker.postMessage({ type: 'close' });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), this.#graceMs);
    });
    const clean = await Promise.race([exited, timedOut]);
    clearTimeout(timer);
    if (!clean) await worker.terminate();
  }

  #spawn(): Worker {
    // A fresh control block: the new worker has posted nothing yet.
    this.#control = new Int32Array(new SharedArrayBuffer(CONTROL.length * 4));
    const worker = startWorker('decode-worker', import.meta.url, {
      name: this.#name,
      workerData: { control: this.#control },
    });
    worker.on('message', (message: BackendMessage) => {
      if (message.type === 'done') this.#busy = false;
      this.#onMessage(message);
    });
    const crashed = (why: string) => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      if (this.#closed || !this.#busy) return;
      this.#busy = false;
      this.#onMessage({
        type: 'done',
        outcome: 'error',
        error: { code: 'DECODE_FAILED', message: `Decode worker ${this.#name} ${why}` },
      });
    };
    worker.on('error', (err) => crashed(`crashed: ${err.message}`));
    worker.on('exit', (code) => crashed(`exited with code ${code}`));
    return worker;
  }
}
