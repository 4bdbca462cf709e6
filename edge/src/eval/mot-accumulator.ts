/**
 * CLEAR MOT + identity metrics accumulated frame by frame, following py-motmetrics' MOTAccumulator and
 * metrics.py (events MATCH / SWITCH / MISS / FP, match continuity, IDF1 by a global id assignment).
 */
import type { Box } from '@sightline/shared';
import { costMatrix, linearAssignment } from '../tracking/assignment.ts';

/** One ground-truth object or hypothesis in a frame: its identity and [x1, y1, x2, y2] box. */
export interface MotObject {
  id: number;
  box: Box;
}

/** Options of a MotAccumulator. */
export interface MotAccumulatorOptions {
  /** Minimum IoU for a gt/hypothesis pair to match (distance 1 - IoU at most 1 - this). Default 0.5. */
  iouThreshold?: number;
}

/** The metrics of an accumulated sequence; rates are fractions, the rest counts. Names follow py-motmetrics. */
export interface MotMetrics {
  /** 1 - (fn + fp + idsw) / numObjects. */
  mota: number;
  /** Mean 1 - IoU distance of the matched pairs (py-motmetrics' MOTP; the MOT devkit reports 1 - this). */
  motp: number;
  /** Identity F1: 2 idtp / (numObjects + numPredictions). */
  idf1: number;
  /** Identity precision: idtp / (idtp + idfp). */
  idp: number;
  /** Identity recall: idtp / numObjects. */
  idr: number;
  /** numDetections / numObjects. */
  recall: number;
  /** numDetections / (numDetections + fp). */
  precision: number;
  /** Frames fed to the accumulator. */
  numFrames: number;
  /** Ground-truth boxes (appearances of gt objects over all frames). */
  numObjects: number;
  /** Hypothesis boxes. */
  numPredictions: number;
  /** Matches that kept their identity (py-motmetrics num_matches; excludes switches). */
  numMatches: number;
  /** Matched gt boxes, switches included (true positives). */
  numDetections: number;
  /** False positives: hypotheses matched to no gt object. */
  fp: number;
  /** Misses: gt objects matched to no hypothesis. */
  fn: number;
  /** Identity switches. */
  idsw: number;
  /** Fragmentations: times a gt trajectory goes from tracked to missed and is tracked again later. */
  frag: number;
  /** Mostly tracked gt ids (tracked in at least 80 % of the frames they appear in). */
  mt: number;
  /** Partially tracked gt ids (20 % to 80 %). */
  pt: number;
  /** Mostly lost gt ids (under 20 %). */
  ml: number;
  /** Distinct gt ids. */
  gtIds: number;
  /** Distinct hypothesis ids. */
  hypIds: number;
  /** Identity true positives, false positives and false negatives of the global id assignment. */
  idtp: number;
  idfp: number;
  idfn: number;
}

/** Per gt id: appearances, tracked appearances and fragmentation state. */
interface ObjectStats {
  count: number;
  tracked: number;
  frag: number;
  /** Tracked at least once so far. */
  seenTracked: boolean;
  /** Missed since the last tracked frame (a fragment closes when it is tracked again). */
  missSinceTracked: boolean;
}

/** 1 - IoU of two [x1, y1, x2, y2] boxes, with py-motmetrics' arithmetic (areas from the corner differences). */
export function iouDistance(a: Box, b: Box): number {
  const iw = Math.max(Math.min(a[2], b[2]) - Math.max(a[0], b[0]), 0);
  const ih = Math.max(Math.min(a[3], b[3]) - Math.max(a[1], b[1]), 0);
  const inter = iw * ih;
  if (inter === 0) return 1;
  const areaA = Math.max(a[2] - a[0], 0) * Math.max(a[3] - a[1], 0);
  const areaB = Math.max(b[2] - b[0], 0) * Math.max(b[3] - b[1], 0);
  return 1 - inter / (areaA + areaB - inter);
}

/**
 * Feeds frames of ground truth and hypotheses and derives CLEAR MOT and identity metrics, as py-motmetrics does:
 * pairs farther than 1 - iouThreshold cannot match; a pair matched in the previous update stays matched while
 * still allowed (match continuity); the remaining pairs are matched by minimum total distance among the matchings
 * with the most pairs; a gt id matched to another hypothesis than its last one is a switch.
 */
export class MotAccumulator {
  readonly #maxDistance: number;
  #lastFrame: number | undefined;
  #frames = 0;
  /** gt id -> hypothesis id it was last matched to. */
  readonly #lastHyp = new Map<number, number>();
  /** gt id -> frame it was last matched in. */
  readonly #lastMatchFrame = new Map<number, number>();
  readonly #objects = new Map<number, ObjectStats>();
  readonly #hypIds = new Set<number>();
  /** gt id -> hypothesis id -> frames where the pair was within the distance threshold. */
  readonly #pairCounts = new Map<number, Map<number, number>>();
  #matches = 0;
  #switches = 0;
  #misses = 0;
  #falsePositives = 0;
  #distanceSum = 0;

  constructor(options: MotAccumulatorOptions = {}) {
    const iouThreshold = options.iouThreshold ?? 0.5;
    if (typeof iouThreshold !== 'number' || !(iouThreshold >= 0 && iouThreshold <= 1)) {
      throw new RangeError(`Expected iouThreshold in [0, 1] but received ${iouThreshold}`);
    }
    this.#maxDistance = 1 - iouThreshold;
  }

  /** Add one frame; frames must be fed in increasing order (gaps allowed). */
  update(frame: number, gt: readonly MotObject[], hyp: readonly MotObject[]): void {
    if (typeof frame !== 'number' || Number.isNaN(frame)) {
      throw new TypeError(`Expected a number for frame but received ${frame} of type ${typeof frame}`);
    }
    if (this.#lastFrame !== undefined && frame <= this.#lastFrame) {
      throw new RangeError(
        `Expected frames in increasing order but frame ${frame} follows ${this.#lastFrame}`,
      );
    }
    const no = gt.length;
    const nh = hyp.length;
    // Distances; NaN marks a pair that may not match (IoU below the threshold).
    const dist = new Float64Array(no * nh);
    for (let i = 0; i < no; i++) {
      for (let j = 0; j < nh; j++) {
        const d = iouDistance((gt[i] as MotObject).box, (hyp[j] as MotObject).box);
        dist[i * nh + j] = d > this.#maxDistance ? Number.NaN : d;
      }
    }
    this.#countRaw(gt, hyp, dist);

    const gtDone = new Uint8Array(no);
    const hypDone = new Uint8Array(nh);
    if (no > 0 && nh > 0) {
      // 1. Match continuity: keep the pairs matched in the previous update while their distance allows it.
      for (let i = 0; i < no; i++) {
        const o = (gt[i] as MotObject).id;
        const h = this.#lastHyp.get(o);
        if (h === undefined || this.#lastMatchFrame.get(o) !== this.#lastFrame) continue;
        const j = hyp.findIndex((x, k) => !hypDone[k] && x.id === h);
        if (j < 0 || Number.isNaN(dist[i * nh + j])) continue;
        gtDone[i] = 1;
        hypDone[j] = 1;
        this.#match(o, h, dist[i * nh + j] as number, frame, false);
      }
      // 2. The rest: the most pairs, then the least total distance.
      for (const [i, j] of this.#assign(dist, no, nh, gtDone, hypDone)) {
        const o = (gt[i] as MotObject).id;
        const h = (hyp[j] as MotObject).id;
        const prev = this.#lastHyp.get(o);
        gtDone[i] = 1;
        hypDone[j] = 1;
        this.#match(o, h, dist[i * nh + j] as number, frame, prev !== undefined && prev !== h);
      }
    }
    // 3. Unmatched gt objects are misses, 4. unmatched hypotheses false positives.
    for (let i = 0; i < no; i++) {
      if (gtDone[i]) continue;
      this.#misses++;
      const s = this.#object((gt[i] as MotObject).id);
      s.count++;
      if (s.seenTracked) s.missSinceTracked = true;
    }
    for (let j = 0; j < nh; j++) if (!hypDone[j]) this.#falsePositives++;
    this.#lastFrame = frame;
    this.#frames++;
  }

  /** The metrics of everything fed so far. */
  metrics(): MotMetrics {
    const numObjects = this.#matches + this.#switches + this.#misses;
    const numDetections = this.#matches + this.#switches;
    const numPredictions = numDetections + this.#falsePositives;
    let mt = 0;
    let pt = 0;
    let ml = 0;
    let frag = 0;
    for (const s of this.#objects.values()) {
      const ratio = s.tracked / s.count;
      if (ratio >= 0.8) mt++;
      else if (ratio >= 0.2) pt++;
      else ml++;
      frag += s.frag;
    }
    // As py-motmetrics: idfn and idfp are the gt and hypothesis boxes outside the shared frames of the
    // assigned id pairs, and idtp = numObjects - idfn.
    const shared = this.#bestIdMatches();
    const idfn = numObjects - shared;
    const idfp = numPredictions - shared;
    const idtp = numObjects - idfn;
    return {
      mota: 1 - (this.#misses + this.#switches + this.#falsePositives) / numObjects,
      motp: numDetections === 0 ? Number.NaN : this.#distanceSum / numDetections,
      idf1: (2 * idtp) / (numObjects + numPredictions),
      idp: idtp / (idtp + idfp),
      idr: idtp / numObjects,
      recall: numDetections / numObjects,
      precision: numDetections / (this.#falsePositives + numDetections),
      numFrames: this.#frames,
      numObjects,
      numPredictions,
      numMatches: this.#matches,
      numDetections,
      fp: this.#falsePositives,
      fn: this.#misses,
      idsw: this.#switches,
      frag,
      mt,
      pt,
      ml,
      gtIds: this.#objects.size,
      hypIds: this.#hypIds.size,
      idtp,
      idfp,
      idfn,
    };
  }

  #object(id: number): ObjectStats {
    let s = this.#objects.get(id);
    if (!s) {
      s = { count: 0, tracked: 0, frag: 0, seenTracked: false, missSinceTracked: false };
      this.#objects.set(id, s);
    }
    return s;
  }

  /** Record a MATCH (or SWITCH) event. */
  #match(o: number, h: number, d: number, frame: number, isSwitch: boolean): void {
    if (isSwitch) this.#switches++;
    else this.#matches++;
    this.#distanceSum += d;
    this.#lastHyp.set(o, h);
    this.#lastMatchFrame.set(o, frame);
    const s = this.#object(o);
    s.count++;
    s.tracked++;
    if (s.missSinceTracked) s.frag++;
    s.seenTracked = true;
    s.missSinceTracked = false;
  }

  /** Note the hypothesis ids and count each allowed gt/hypothesis pair (py-motmetrics' RAW events) for IDF1. */
  #countRaw(gt: readonly MotObject[], hyp: readonly MotObject[], dist: Float64Array): void {
    const nh = hyp.length;
    for (const h of hyp) this.#hypIds.add(h.id);
    gt.forEach((g, i) => {
      for (let j = 0; j < nh; j++) {
        if (Number.isNaN(dist[i * nh + j])) continue;
        let row = this.#pairCounts.get(g.id);
        if (!row) {
          row = new Map();
          this.#pairCounts.set(g.id, row);
        }
        const h = (hyp[j] as MotObject).id;
        row.set(h, (row.get(h) ?? 0) + 1);
      }
    });
  }

  /**
   * Minimum-distance matching among those with the most pairs, over the rows and columns not yet matched.
   * py-motmetrics gives forbidden pairs a cost so large that one never pays off; here every allowed pair gains
   * more (threshold - distance, with threshold > pairs x max distance) than any distance saving can outweigh.
   */
  #assign(
    dist: Float64Array,
    no: number,
    nh: number,
    gtDone: Uint8Array,
    hypDone: Uint8Array,
  ): [number, number][] {
    const rows: number[] = [];
    const cols: number[] = [];
    for (let i = 0; i < no; i++) if (!gtDone[i]) rows.push(i);
    for (let j = 0; j < nh; j++) if (!hypDone[j]) cols.push(j);
    if (rows.length === 0 || cols.length === 0) return [];
    const cost = costMatrix(rows.length, cols.length);
    let maxDistance = 0;
    rows.forEach((i, r) => {
      cols.forEach((j, c) => {
        const d = dist[i * nh + j] as number;
        if (Number.isNaN(d)) return;
        cost.data[r * cols.length + c] = d;
        maxDistance = Math.max(maxDistance, Math.abs(d));
      });
    });
    const threshold = 2 * Math.min(rows.length, cols.length) * maxDistance + 1;
    return linearAssignment(cost, threshold).matches.map(([r, c]) => [rows[r] as number, cols[c] as number]);
  }

  /**
   * The most frames a one-to-one gt id / hypothesis id assignment can share (py-motmetrics' IDTP before the
   * idfn bookkeeping). py-motmetrics solves a square matrix with a dummy column per gt id and a dummy row per
   * hypothesis id; its minimum cost is sum(gt boxes) + sum(hypothesis boxes) - 2 * (shared frames of the
   * matched pairs), so it is the same as this maximum-weight bipartite matching on the pairs that share frames.
   */
  #bestIdMatches(): number {
    const oids = [...this.#pairCounts.keys()];
    const hids = [...this.#hypIds];
    if (oids.length === 0) return 0;
    const hidIndex = new Map(hids.map((h, c) => [h, c]));
    const cost = costMatrix(oids.length, hids.length);
    oids.forEach((o, r) => {
      for (const [h, n] of this.#pairCounts.get(o) as Map<number, number>) {
        cost.data[r * hids.length + (hidIndex.get(h) as number)] = -n;
      }
    });
    let shared = 0;
    for (const [r, c] of linearAssignment(cost, 0).matches)
      shared -= cost.data[r * hids.length + c] as number;
    return shared;
  }
}
