/** Candidate boxes and class-aware non-maximum suppression shared by the detection adapters. */

/**
 * Candidates in structure-of-arrays form (grown as needed, reused between frames).
 * Boxes are x1, y1, x2, y2 in whatever space the caller chooses.
 */
export class Candidates {
  count = 0;
  boxes = new Float32Array(4 * 256);
  scores = new Float32Array(256);
  classes = new Int32Array(256);

  /** Forget all candidates, keeping the storage. */
  reset(): void {
    this.count = 0;
  }

  push(x1: number, y1: number, x2: number, y2: number, score: number, classId: number): void {
    if (this.count === this.scores.length) this.#grow();
    const i = this.count++;
    const b = i * 4;
    this.boxes[b] = x1;
    this.boxes[b + 1] = y1;
    this.boxes[b + 2] = x2;
    this.boxes[b + 3] = y2;
    this.scores[i] = score;
    this.classes[i] = classId;
  }

  #grow(): void {
    const n = this.scores.length * 2;
    const boxes = new Float32Array(4 * n);
    boxes.set(this.boxes);
    const scores = new Float32Array(n);
    scores.set(this.scores);
    const classes = new Int32Array(n);
    classes.set(this.classes);
    this.boxes = boxes;
    this.scores = scores;
    this.classes = classes;
  }
}

/** Intersection over union of two x1,y1,x2,y2 boxes stored at indices `a` and `b` of `boxes`. */
export function iouAt(boxes: Float32Array, a: number, b: number): number {
  const ax1 = boxes[a * 4]!;
  const ay1 = boxes[a * 4 + 1]!;
  const ax2 = boxes[a * 4 + 2]!;
  const ay2 = boxes[a * 4 + 3]!;
  const bx1 = boxes[b * 4]!;
  const by1 = boxes[b * 4 + 1]!;
  const bx2 = boxes[b * 4 + 2]!;
  const by2 = boxes[b * 4 + 3]!;
  const iw = Math.min(ax2, bx2) - Math.max(ax1, bx1);
  const ih = Math.min(ay2, by2) - Math.max(ay1, by1);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter;
  return union > 0 ? inter / union : 0;
}

export interface NmsOptions {
  /** Suppress a box whose IoU with a kept box of the same class is above this (0..1). */
  iou: number;
  /** Drop candidates scoring below this (0..1). Default 0 (keep all). */
  confidence?: number;
  /** Keep at most this many boxes, best first. Default 300. */
  maxDetections?: number;
  /** Suppress across classes too (class-agnostic). Default false. */
  agnostic?: boolean;
}

function checkUnit(name: string, v: unknown): void {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) {
    throw new RangeError(
      `Expected a number between 0 and 1 for ${name} but received ${String(v)} of type ${typeof v}`,
    );
  }
}

/** Greedy NMS, class-aware unless `agnostic`; returns kept candidate indices, best score first. */
export function nms(c: Candidates, options: NmsOptions): number[] {
  checkUnit('iou', options.iou);
  const confidence = options.confidence ?? 0;
  checkUnit('confidence', confidence);
  const maxDet = options.maxDetections ?? 300;
  if (!Number.isInteger(maxDet) || maxDet <= 0) {
    throw new RangeError(
      `Expected a positive integer for maxDetections but received ${maxDet} of type ${typeof maxDet}`,
    );
  }
  const order: number[] = [];
  for (let i = 0; i < c.count; i++) if (c.scores[i]! >= confidence) order.push(i);
  // Stable order for equal scores: lower index first.
  order.sort((a, b) => c.scores[b]! - c.scores[a]! || a - b);
  const kept: number[] = [];
  for (const i of order) {
    let keep = true;
    for (const k of kept) {
      if (!options.agnostic && c.classes[k] !== c.classes[i]) continue;
      if (iouAt(c.boxes, k, i) > options.iou) {
        keep = false;
        break;
      }
    }
    if (keep) {
      kept.push(i);
      if (kept.length >= maxDet) break;
    }
  }
  return kept;
}
