/** Sightline overflow worker. */
export { decodeKey, type QueuedFrame, takeBatch } from './batcher.ts';
export { type ParsedEntry, parseEntry, type ServedModel } from './entries.ts';
export { FrameError, toDecodedFrame } from './frames.ts';
export type { WorkerCounters } from './model-lane.ts';
export {
  defaultWorkerId,
  OverflowWorker,
  type OverflowWorkerEvents,
  type OverflowWorkerOptions,
} from './overflow-worker.ts';
