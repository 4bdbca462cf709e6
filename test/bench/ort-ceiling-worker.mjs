// Benchmark worker (plain JS so a worker thread can load it without tsx): runs one session back-to-back on a
// fixed input and reports how many runs it finished.
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';

const { modelPath, threads, spinning, seconds, shape } = workerData;
const spin = spinning ? '1' : '0';
const session = await ort.InferenceSession.create(modelPath, {
  executionProviders: ['cpu'],
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  extra: { session: { intra_op: { allow_spinning: spin }, inter_op: { allow_spinning: spin } } },
});
const size = shape.reduce((a, b) => a * b, 1);
const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', new Float32Array(size).fill(114), shape) };
for (let i = 0; i < 5; i++) await session.run(feeds);
parentPort.postMessage({ type: 'ready' });
await new Promise((resolve) => parentPort.once('message', resolve));
const end = performance.now() + seconds * 1000;
let runs = 0;
while (performance.now() < end) {
  await session.run(feeds);
  runs++;
}
parentPort.postMessage({ type: 'done', runs });
