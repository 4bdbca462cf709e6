/**
 * Packs queued frames of many requests (many edges) into model calls: up to `maxBatch` frames per call, frames of
 * one call sharing their decode thresholds (one infer() applies one set), oldest first.
 */

/** A frame waiting for a model call. */
export interface QueuedFrame<J> {
  /** The request it belongs to. */
  job: J;
  /** Its index among the request's frames. */
  index: number;
  /** Requests whose decode thresholds are equal share a key (see decodeKey). */
  key: string;
}

/** Key of a request's decode thresholds: equal thresholds, equal key. */
export function decodeKey(decode: { confidence: number; iou: number; classes?: readonly string[] }): string {
  return JSON.stringify([decode.confidence, decode.iou, decode.classes ?? null]);
}

/**
 * Take the next call's frames out of `queue`: the oldest frame and then the oldest frames with its key, at most
 * `maxBatch`. Frames with other keys keep their order. Empty when the queue is.
 */
export function takeBatch<J>(queue: QueuedFrame<J>[], maxBatch: number): QueuedFrame<J>[] {
  const head = queue[0];
  if (!head) return [];
  const batch: QueuedFrame<J>[] = [];
  const rest: QueuedFrame<J>[] = [];
  for (const f of queue) {
    if (batch.length < maxBatch && f.key === head.key) batch.push(f);
    else rest.push(f);
  }
  queue.splice(0, queue.length, ...rest);
  return batch;
}
