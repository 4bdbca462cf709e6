/** The `inferred` messages a worker sends back: results per frame, or why there are none. */
import { encode } from '@msgpack/msgpack';
import type { InferResult } from '@sightline/edge';
import type { Inferred, OFFLOAD_FAILURES, OffloadResult } from '@sightline/shared';

/** Failure codes a worker answers with (EXPIRED, FAILED). */
export type WorkerFailure = (typeof OFFLOAD_FAILURES)[keyof typeof OFFLOAD_FAILURES];

/** One frame's answer, as the wire carries it (detections copied field by field: no extra or undefined fields). */
export function toOffloadResult(r: InferResult): OffloadResult {
  return {
    detections: r.detections.map((d) => ({
      box: [d.box[0], d.box[1], d.box[2], d.box[3]],
      score: d.score,
      classId: d.classId,
      label: d.label,
      ...(d.mask ? { mask: { box: d.mask.box, w: d.mask.w, h: d.mask.h, counts: d.mask.counts } } : {}),
    })),
    preprocessMs: r.preprocessMs,
    inferMs: r.inferMs,
    postprocessMs: r.postprocessMs,
    batchSize: r.batchSize,
  };
}

/** Results of a request. */
export function inferredOk(id: string, results: OffloadResult[], worker: string, queuedMs: number): Inferred {
  return { t: 'inferred', id, ok: true, results, worker, queuedMs };
}

/** A request without results, and why. */
export function inferredFailed(
  id: string,
  code: WorkerFailure,
  message: string,
  worker: string,
  queuedMs?: number,
): Inferred {
  return {
    t: 'inferred',
    id,
    ok: false,
    error: { code, message },
    worker,
    ...(queuedMs === undefined ? {} : { queuedMs }),
  };
}

/** The `answer` field of a results entry. */
export function encodeAnswer(answer: Inferred): Buffer {
  const bytes = encode(answer, { ignoreUndefined: true });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
