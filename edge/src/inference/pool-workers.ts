/** Starting and ending the InferencePool's session worker threads, never terminating one inside a native run. */
import { once } from 'node:events';
import type { Worker } from 'node:worker_threads';
import { startWorker, startWorkerAt } from '../worker-thread.ts';
import type { ToWorker, WorkerInit } from './protocol.ts';

/** How long close() waits for a worker to finish its run and exit (it is never terminated: see stopWorker). */
const CLOSE_GRACE_MS = 10_000;

export function spawnWorker(init: WorkerInit, name: string, url?: URL): Worker {
  const options = { workerData: init, name };
  return url ? startWorkerAt(url, options) : startWorker('session-worker', import.meta.url, options);
}

/**
 * Tell a worker to end once its run in progress returns, and stop waiting for it. Never terminate() a worker that
 * may be inside a run: onnxruntime-node then throws from native code and the whole process aborts. A worker
 * stuck in native code for good stays stuck, but unref'd it cannot hold the process open.
 */
export function retireWorker(worker: Worker): void {
  worker.unref();
  try {
    worker.postMessage({ type: 'close' } satisfies ToWorker);
  } catch {
    // The worker has already gone.
  }
}

/**
 * Retire a worker and wait until it exits, at most CLOSE_GRACE_MS. One still running then is left alone, unref'd:
 * it may be inside a native run (a slow one on a loaded machine, or a run abandoned by requestTimeoutMs), and
 * terminating it there aborts the process; it ends itself when the run returns.
 */
export async function stopWorker(worker: Worker): Promise<void> {
  if (worker.threadId < 0) return; // already exited
  const exited = once(worker, 'exit').then(
    () => undefined,
    () => undefined,
  );
  retireWorker(worker);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, CLOSE_GRACE_MS);
  });
  await Promise.race([exited, late]);
  clearTimeout(timer);
}
