/** ByteTrack: IoU tracking that also associates low-score detections, so occluded objects keep their tracks. */
import {
  type Box,
  ByteTrackConfig,
  type ClassLabel,
  ConfigError,
  type Detection,
  type Track,
  type TrackerConfig,
} from '@sightline/shared';
import { type Assignment, type CostMatrix, linearAssignment } from './assignment.ts';
import { iou } from './iou.ts';
import { boxToXyah, KalmanFilter, xyahToBox } from './kalman.ts';
import {
  checkUpdateInput,
  confirmOnHit,
  isUsableDetection,
  parseTrackerSettings,
  reportTrack,
  type TrackCore,
} from './track-utils.ts';
import type { Appearance, Tracker } from './tracker.ts';

/** The ByteTrack settings (shared/src/config.ts ByteTrackConfig). */
export type ByteTrackSettings = Extract<TrackerConfig, { type: 'bytetrack' }>;

/** Second association (low-score detections to tracked tracks) needs IoU >= this (ByteTrack: 0.5). */
export const SECOND_MATCH_IOU = 0.5;
/** Unconfirmed tracks need IoU x score >= this with a remaining high detection (ByteTrack: 0.3). */
export const UNCONFIRMED_MATCH_IOU = 0.3;
/** A tracked and a lost track overlapping more than this are duplicates; the younger goes (ByteTrack: 0.85). */
export const DUPLICATE_IOU = 0.85;

interface STrack extends TrackCore {
  state: 'tracked' | 'lost';
}

/**
 * ByteTrack (Zhang et al. 2022) on the shared Kalman filter, one instance per stream.
 *
 * Each `update(detections)`:
 *  1. predicts every track one frame ahead;
 *  2. matches detections with score >= highThreshold to confirmed tracked + lost tracks, cost 1 - IoU x score,
 *     accepting IoU x score >= matchIou (ByteTrack's score fusion; matchIou 0.2 = ByteTrack's match_thresh 0.8);
 *  3. matches detections with lowThreshold <= score < highThreshold to the still-unmatched tracked tracks,
 *     accepting IoU >= SECOND_MATCH_IOU; tracked tracks still unmatched become lost;
 *  4. matches unconfirmed tracks to the remaining high detections (IoU x score >= UNCONFIRMED_MATCH_IOU);
 *     an unconfirmed track that misses a frame is dropped;
 *  5. starts a track for each remaining high detection with score >= newTrackThreshold;
 *  6. removes lost tracks that missed more than maxAge consecutive frames (so one that reappears after a gap
 *     of up to maxAge missed frames keeps its id).
 * Only detections and tracks of the same classId are associated.
 *
 * Reporting rule: a track is confirmed, and gets the next id (1, 2, ... per tracker, never reused, not even
 * after reset), on its minHits-th matched frame; unconfirmed tracks have no id and are never reported.
 * `update` returns the confirmed tracks matched on this frame (timeSinceUpdate 0), sorted by id, each with the
 * matched detection's box and score (what the camera showed on this frame; the Kalman state drives association
 * only). Lost tracks coast and are listed by `tracks()` only, at their predicted box. Tracks born on the first
 * frame (after construction or reset) are confirmed at once.
 * Appearance embeddings are accepted and ignored. Detections with a non-finite or empty box are ignored.
 */
export class ByteTracker implements Tracker {
  readonly #config: ByteTrackSettings;
  readonly #kf = new KalmanFilter();
  #tracks: STrack[] = [];
  #frame = 0;
  #nextId = 1;

  constructor(config: Partial<ByteTrackSettings> = {}) {
    const c = parseTrackerSettings(ByteTrackConfig, { ...config, type: 'bytetrack' }, 'ByteTrack');
    if (c.lowThreshold > c.highThreshold) {
      throw new ConfigError('Invalid ByteTrack config', [
        `lowThreshold: ${c.lowThreshold} is above highThreshold ${c.highThreshold}`,
      ]);
    }
    this.#config = c;
  }

  /** The settings in use, defaults filled in. */
  get config(): Readonly<ByteTrackSettings> {
    return this.#config;
  }

  update(detections: Detection[], appearance?: Appearance): Track[] {
    checkUpdateInput(detections, appearance);
    const cfg = this.#config;
    const frame = ++this.#frame;
    const valid = detections.filter(isUsableDetection);
    const high = valid.filter((d) => d.score >= cfg.highThreshold);
    const low = valid.filter((d) => d.score >= cfg.lowThreshold && d.score < cfg.highThreshold);

    for (const t of this.#tracks) {
      if (t.state === 'lost') t.kf.mean[7] = 0; // ByteTrack: a coasting track stops changing height
      this.#kf.predict(t.kf);
    }
    const unconfirmed = this.#tracks.filter((t) => !t.confirmed);
    const pool = this.#tracks.filter((t) => t.confirmed);

    // 1st association: high detections to confirmed tracked + lost tracks.
    const first = linearAssignment(costs(pool, high, true), 1 - cfg.matchIou);
    for (const [ti, di] of first.matches) this.#hit(pool[ti] as STrack, high[di] as Detection, frame);

    // 2nd association: low detections to the tracked tracks left over.
    const rTracked = first.unmatchedRows.map((i) => pool[i] as STrack).filter((t) => t.state === 'tracked');
    const second = linearAssignment(costs(rTracked, low, false), 1 - SECOND_MATCH_IOU);
    for (const [ti, di] of second.matches) this.#hit(rTracked[ti] as STrack, low[di] as Detection, frame);
    for (const i of second.unmatchedRows) (rTracked[i] as STrack).state = 'lost';

    // Unconfirmed tracks against the high detections left over.
    const restHigh = first.unmatchedCols.map((i) => high[i] as Detection);
    const third: Assignment = linearAssignment(costs(unconfirmed, restHigh, true), 1 - UNCONFIRMED_MATCH_IOU);
    for (const [ti, di] of third.matches)
      this.#hit(unconfirmed[ti] as STrack, restHigh[di] as Detection, frame);
    const dropped = new Set(third.unmatchedRows.map((i) => unconfirmed[i] as STrack));

    // New tracks.
    const born: STrack[] = [];
    for (const di of third.unmatchedCols) {
      const d = restHigh[di] as Detection;
      if (d.score < cfg.newTrackThreshold) continue;
      const t: STrack = {
        id: 0,
        kf: this.#kf.initiate(boxToXyah(d.box)),
        state: 'tracked',
        confirmed: false,
        score: d.score,
        classId: d.classId,
        label: d.label,
        startFrame: frame,
        lastFrame: frame,
        hits: 0,
        lastBox: d.box,
        lastMask: d.mask,
        ...(d.classes ? { lastClasses: d.classes } : {}),
      };
      confirmOnHit(t, this.#config.minHits, () => this.#nextId++);
      born.push(t);
    }

    let kept = this.#tracks.filter(
      (t) => !dropped.has(t) && !(t.state === 'lost' && frame - t.lastFrame > cfg.maxAge),
    );
    kept = removeDuplicates(kept);
    this.#tracks = kept.concat(born);

    return this.#tracks
      .filter((t) => t.confirmed && t.lastFrame === frame)
      .map((t) => reportTrack(t, this.#frame))
      .sort((a, b) => a.trackId - b.trackId);
  }

  tracks(): Track[] {
    return this.#tracks
      .filter((t) => t.confirmed)
      .map((t) => reportTrack(t, this.#frame))
      .sort((a, b) => a.trackId - b.trackId);
  }

  reset(): void {
    this.#tracks = [];
    this.#frame = 0;
  }

  label(trackId: number, classes: ClassLabel[]): boolean {
    const t = this.#tracks.find((x) => x.confirmed && x.id === trackId);
    if (t) t.lastClasses = classes;
    return t !== undefined;
  }

  #hit(t: STrack, d: Detection, frame: number): void {
    this.#kf.update(t.kf, boxToXyah(d.box));
    t.state = 'tracked';
    t.score = d.score;
    t.lastBox = d.box;
    t.lastMask = d.mask;
    if (d.classes) t.lastClasses = d.classes;
    t.lastFrame = frame;
    confirmOnHit(t, this.#config.minHits, () => this.#nextId++);
  }
}

/** 1 - IoU (x score when fused) between tracks and detections; Infinity across classes. */
function costs(tracks: readonly STrack[], dets: readonly Detection[], fuseScore: boolean): CostMatrix {
  const rows = tracks.length;
  const cols = dets.length;
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const t = tracks[i] as STrack;
    const tb = xyahToBox(t.kf.mean);
    for (let j = 0; j < cols; j++) {
      const d = dets[j] as Detection;
      if (d.classId !== t.classId) {
        data[i * cols + j] = Number.POSITIVE_INFINITY;
        continue;
      }
      const sim = iou(tb, d.box);
      data[i * cols + j] = 1 - (fuseScore ? sim * d.score : sim);
    }
  }
  return { rows, cols, data };
}

/** ByteTrack's remove_duplicate_stracks: of a tracked/lost pair of the same class overlapping a lot, keep the older. */
function removeDuplicates(tracks: STrack[]): STrack[] {
  const tracked = tracks.filter((t) => t.state === 'tracked' && t.confirmed);
  const lost = tracks.filter((t) => t.state === 'lost');
  if (tracked.length === 0 || lost.length === 0) return tracks;
  const gone = new Set<STrack>();
  const boxes = new Map<STrack, Box>(tracks.map((t) => [t, xyahToBox(t.kf.mean)]));
  for (const p of tracked) {
    for (const q of lost) {
      if (p.classId !== q.classId) continue;
      if (iou(boxes.get(p) as Box, boxes.get(q) as Box) <= DUPLICATE_IOU) continue;
      const ageP = p.lastFrame - p.startFrame;
      const ageQ = q.lastFrame - q.startFrame;
      gone.add(ageP > ageQ ? q : p);
    }
  }
  return gone.size ? tracks.filter((t) => !gone.has(t)) : tracks;
}
