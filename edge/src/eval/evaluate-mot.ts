/** Score MOTChallenge hypothesis records against ground-truth records, as py-motmetrics does. */
import type { MotRecord } from '../tracking/mot-format.ts';
import { MotAccumulator, type MotMetrics, type MotObject } from './mot-accumulator.ts';

/** Options of evaluateMot. */
export interface EvaluateMotOptions {
  /** Minimum IoU for a gt/hypothesis pair to match. Default 0.5 (py-motmetrics' distth 0.5 on 1 - IoU). */
  iouThreshold?: number;
  /** Drop gt lines whose 7th column (the MOT16/17 "consider" flag) is 0. Default true. */
  ignoreFlaggedGt?: boolean;
}

/** MotMetrics plus what evaluateMot left out. */
export interface MotEvaluation extends MotMetrics {
  /** Gt lines dropped because their consider flag is 0. */
  ignoredGt: number;
}

/**
 * CLEAR MOT and identity metrics of `hyp` against `gt`, frame by frame over every frame either one has.
 * Gt lines flagged 0 in the 7th column are ignored like py-motmetrics' MOT16/17 evaluation does
 * (it loads gt with min_confidence=1); MOT15 gt has 1 there everywhere, detections and results are never filtered.
 */
export function evaluateMot(
  gt: readonly MotRecord[],
  hyp: readonly MotRecord[],
  options: EvaluateMotOptions = {},
): MotEvaluation {
  if (!Array.isArray(gt) || !Array.isArray(hyp)) {
    throw new TypeError(`Expected arrays of MOT records but received ${typeof gt} and ${typeof hyp}`);
  }
  const keep = options.ignoreFlaggedGt === false ? gt : gt.filter((r) => r.conf !== 0);
  const gtByFrame = byFrame(keep);
  const hypByFrame = byFrame(hyp);
  const frames = [...new Set([...gtByFrame.keys(), ...hypByFrame.keys()])].sort((a, b) => a - b);
  const acc = new MotAccumulator({ iouThreshold: options.iouThreshold });
  for (const f of frames) acc.update(f, gtByFrame.get(f) ?? [], hypByFrame.get(f) ?? []);
  return { ...acc.metrics(), ignoredGt: gt.length - keep.length };
}

/**
 * Objects per frame in file order. Boxes are shifted by -1 (py-motmetrics' loader turns the 1-based MOTChallenge
 * coordinates 0-based): IoU does not change, but its floating-point rounding then matches py-motmetrics' exactly.
 */
function byFrame(records: readonly MotRecord[]): Map<number, MotObject[]> {
  const out = new Map<number, MotObject[]>();
  for (const r of records) {
    const x = r.x - 1;
    const y = r.y - 1;
    const o: MotObject = { id: r.id, box: [x, y, x + r.w, y + r.h] };
    const list = out.get(r.frame);
    if (list) list.push(o);
    else out.set(r.frame, [o]);
  }
  return out;
}
