/** Worker-thread entry: one SessionRunner per thread, driven by messages from the InferencePool. */
import { parentPort, workerData } from 'node:worker_threads';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.ts';
import { toWire } from './protocol.ts';
import { SessionRunner } from './session-runner.ts';

const port = parentPort;
if (!port) throw new Error('session-worker.ts must run in a worker thread');
const init = workerData as WorkerInit;
const send = (m: FromWorker) => port.postMessage(m);

try {
  const runner = await SessionRunner.create(init, {
    warn: (data, message) => send({ type: 'log', level: 'warn', data, message }),
  });
  // Runs are serialised: ONNX Runtime's run() blocks this thread, so messages wait in the port meanwhile.
  let chain: Promise<void> = Promise.resolve();
  // Set by 'close': the pool has given up on this worker (and rejected its requests); runs still queued are skipped.
  let closing = false;
  port.on('message', (m: ToWorker) => {
    if (m.type === 'crash') {
      setImmediate(() => {
        throw new Error('crash requested by test hook');
      });
      return;
    }
    if (m.type === 'close') {
      // Ending the thread by itself, between runs, is safe; terminating it inside a native run aborts the process.
      closing = true;
      chain = chain.then(() => runner.close()).finally(() => port.close());
      return;
    }
    if (m.type === 'hang') {
      // Atomics.wait on a value nobody changes never returns; only terminating the thread ends it.
      chain = chain.then(() => {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
      });
      return;
    }
    chain = chain.then(async () => {
      if (closing) return;
      try {
        send({ type: 'result', id: m.id, results: await runner.run(m.frames, m.decode) });
      } catch (err) {
        send({ type: 'error', id: m.id, error: toWire(err) });
      }
    });
  });
  send({ type: 'ready', provider: runner.provider, skipped: runner.skipped });
} catch (err) {
  send({ type: 'fatal', error: toWire(err) });
}
