// Benchmark worker: runs one yolox_nano session back-to-back on a fixed input and reports runs/s.
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

const { modelPath, threads, spinning, seconds, shape } = workerData as {
  modelPath: string;
  threads: number;
  spinning: boolean;
  seconds: number;
  shape: number[];
};
const session = await ort.InferenceSession.create(modelPath, {
  executionProviders: ['cpu'],
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  extra: { session: { 'intra_op.allow_spinning': spinning ? '1' : '0' } },
});
const size = shape.reduce((a, b) => a * b, 1);
const input = new ort.Tensor('float32', new Float32Array(size).fill(114), shape);
const feeds = { [session.inputNames[0]!]: input };
for (let i = 0; i < 5; i++) await session.run(feeds);
parentPort!.postMessage({ type: 'ready' });
await new Promise<void>((resolve) => parentPort!.once('message', () => resolve()));
const end = performance.now() + seconds * 1000;
let runs = 0;
while (performance.now() < end) {
  await session.run(feeds);
  runs++;
}
parentPort!.postMessage({ type: 'done', runs });
