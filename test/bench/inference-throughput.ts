// Benchmark (not a test): raw ONNX Runtime throughput of yolox_nano on CPU in several session/thread layouts
// (preprocessing has its own: edge/src/preprocess/preprocess.bench.ts). Run: MODELS_DIR=... node --import tsx test/bench/inference-throughput.ts [seconds]
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';

const modelPath = join(process.env.MODELS_DIR ?? 'models/cache', 'yolox_nano.onnx');
const seconds = Number(process.argv[2] ?? 4);

interface RunSpec {
  threads: number;
  spinning: boolean;
  seconds: number;
}

/** Run session.run back to back for `seconds`; returns runs per second. */
async function rawLoop(spec: RunSpec): Promise<number> {
  const spin = spec.spinning ? '1' : '0';
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: spec.threads,
    interOpNumThreads: 1,
    extra: { session: { intra_op: { allow_spinning: spin }, inter_op: { allow_spinning: spin } } },
  });
  const input = new ort.Tensor('float32', new Float32Array(3 * 416 * 416).fill(114), [1, 3, 416, 416]);
  for (let i = 0; i < 3; i++) await session.run({ images: input });
  let runs = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < spec.seconds * 1000) {
    await session.run({ images: input });
    runs++;
  }
  const fps = runs / ((performance.now() - t0) / 1000);
  await session.release();
  return fps;
}

if (!isMainThread) {
  const fps = await rawLoop(workerData as RunSpec);
  parentPort!.postMessage(fps);
} else {
  const inWorker = (s: RunSpec) => {
    const api = JSON.stringify(import.meta.resolve('tsx/esm/api'));
    const code = `import(${api}).then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); })`;
    const w = new Worker(code, { eval: true, workerData: s });
    return new Promise<number>((resolve, reject) => {
      w.once('message', (fps: number) => resolve(fps));
      w.once('error', reject);
    });
  };
  const fmt = (x: number) => x.toFixed(1);
  console.log(
    `1 session x 1 thread, main thread: ${fmt(await rawLoop({ threads: 1, spinning: false, seconds }))} fps`,
  );
  const two = await Promise.all([0, 1].map(() => inWorker({ threads: 1, spinning: false, seconds })));
  console.log(
    `2 sessions x 1 thread, 2 workers: ${fmt(two[0]! + two[1]!)} fps (${two.map(fmt).join(' + ')})`,
  );
  console.log(
    `1 session x 2 threads, spinning on: ${fmt(await rawLoop({ threads: 2, spinning: true, seconds }))} fps`,
  );
  console.log(
    `1 session x 2 threads, spinning off: ${fmt(await rawLoop({ threads: 2, spinning: false, seconds }))} fps`,
  );
}
