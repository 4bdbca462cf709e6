/**
 * Worker-thread entry: one runner per thread, driven by the InferencePool and chosen by the call the model answers
 * (poolMethod): SessionRunner (detection), EmbeddingRunner (re-ID), ClassifierRunner, SegmentationRunner.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { kernelsDescription } from '../native/index.ts';
import { ClassifierRunner } from './classifier-runner.ts';
import { EmbeddingRunner } from './embedding-runner.ts';
import { poolMethod } from './pool-requests.ts';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.ts';
import { toWire } from './protocol.ts';
import { SegmentationRunner } from './segmentation-runner.ts';
import { SessionRunner } from './session-runner.ts';

const port = parentPort;
if (!port) throw new TypeError('session-worker.ts must run in a worker thread');
const init = workerData as WorkerInit;
const send = (m: FromWorker) => port.postMessage(m);

type Runner = SessionRunner | EmbeddingRunner | ClassifierRunner | SegmentationRunner;

function createRunner(log: { warn(data: Record<string, unknown>, message: string): void }): Promise<Runner> {
  switch (poolMethod(init.entry)) {
    case 'embed':
      return EmbeddingRunner.create(init, log);
    case 'classify':
      return ClassifierRunner.create(init, log);
    case 'segment':
      return SegmentationRunner.create(init, log);
    default:
      return SessionRunner.create(init, log);
  }
}

try {
  const log = {
    warn: (data: Record<string, unknown>, message: string) =>
      send({ type: 'log', level: 'warn', data, message }),
  };
  const runner = await createRunner(log);
  // Runs are serialised: ONNX Runtime's run() blocks this thread, so messages wait in the port meanwhile.
  let chain: Promise<void> = Promise.resolve();
  // Set by 'close': the pool has given up on this worker (and rejected its requests); runs still queued are skipped.
  let closing = false;
  port.on('message', (m: ToWorker) => {
    if (m.type === 'close') {
      // Ending the thread by itself, between runs, is safe; terminating it inside a native run aborts the process.
      closing = true;
      chain = chain.then(() => runner.close()).finally(() => port.close());
      return;
    }
    chain = chain.then(async () => {
      if (closing) return;
      try {
        if (m.type === 'embed' && runner instanceof EmbeddingRunner) {
          const result = await runner.run(m.crops);
          port.postMessage(
            { type: 'embedded', id: m.id, result } satisfies FromWorker,
            result.embeddings.map((e) => e.buffer as ArrayBuffer),
          );
        } else if (m.type === 'infer' && runner instanceof SessionRunner) {
          send({ type: 'result', id: m.id, results: await runner.run(m.frames, m.decode) });
        } else if (m.type === 'classify' && runner instanceof ClassifierRunner) {
          send({ type: 'classified', id: m.id, result: await runner.run(m.images, m.topK) });
        } else if (m.type === 'segment' && runner instanceof SegmentationRunner) {
          const results = await runner.run(m.frames);
          port.postMessage(
            { type: 'segmented', id: m.id, results } satisfies FromWorker,
            results.map((r) => r.classMap.buffer as ArrayBuffer),
          );
        } else {
          throw new TypeError(`A ${init.entry.task} session cannot handle "${m.type}" requests`);
        }
      } catch (err) {
        send({ type: 'error', id: m.id, error: toWire(err) });
      }
    });
  });
  // Which pixel kernels prepare() runs here (the pool logs it once).
  send({ type: 'ready', provider: runner.provider, skipped: runner.skipped, kernels: kernelsDescription });
} catch (err) {
  send({ type: 'fatal', error: toWire(err) });
}
