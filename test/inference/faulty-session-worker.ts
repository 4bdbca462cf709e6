/**
 * A session worker with fault injection, for the pool's fault tests (InferencePool's `workerUrl` option): it joins
 * the BroadcastChannel named in $SIGHTLINE_FAULT_CHANNEL, then runs the real session worker. A message
 * `{ session, fault }` on that channel makes session `session` crash ('crash': an uncaught error, as a native fault
 * would) or stop answering for good ('hang': its thread blocks, as a stuck native run would).
 */
import { BroadcastChannel, workerData } from 'node:worker_threads';

/** The message tests post on the channel. */
export interface FaultMessage {
  session: number;
  fault: 'crash' | 'hang';
}

const index = (workerData as { index: number }).index;
const channel = new BroadcastChannel(process.env.SIGHTLINE_FAULT_CHANNEL ?? 'sightline-session-faults');
// The channel must not keep the thread alive once the pool tells the worker to end.
channel.unref();
channel.onmessage = (event) => {
  const m = (event as { data: FaultMessage }).data;
  if (m.session !== index) return;
  if (m.fault === 'crash') {
    setImmediate(() => {
      throw new Error('crash injected by the test');
    });
  } else {
    // Atomics.wait on a value nobody changes never returns; only terminating the thread ends it.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  }
};

// The real worker, from the source tree (the tests run from source).
await import(new URL('../../edge/src/inference/session-worker.ts', import.meta.url).href);
