/** DeepSORT: motion (Kalman + Mahalanobis gating) plus appearance (cosine distance to a per-track gallery). */
import {
  type Box,
  type ClassLabel,
  DeepSortConfig,
  type Detection,
  type Track,
  type TrackerConfig,
} from '@sightline/shared';
import { type CostMatrix, linearAssignment } from './assignment.ts';
import { FeatureGallery } from './gallery.ts';
import { iou } from './iou.ts';
import { boxToXyah, CHI2_INV_95, KalmanFilter, xyahToBox } from './kalman.ts';
import {
  checkUpdateInput,
  confirmOnHit,
  isUsableDetection,
  parseTrackerSettings,
  reportTrack,
  type TrackCore,
} from './track-utils.ts';
import type { Appearance, Tracker } from './tracker.ts';

/** The DeepSORT settings (shared/src/config.ts DeepSortConfig). */
export type DeepSortSettings = Extract<TrackerConfig, { type: 'deepsort' }>;

/** A detection overlapping the last box of a just-matched track by at least this needs no new embedding. */
export const REUSE_IOU = 0.5;
/** A detection overlapping a second track by more than this is ambiguous and always gets an embedding. */
export const AMBIGUOUS_IOU = 0.2;

interface DTrack extends TrackCore {
  gallery: FeatureGallery;
  /** Frame of the newest gallery embedding (0 when none). */
  embeddedFrame: number;
  /** The last matched measurement (cx, cy, a, h): where a lost track was last seen. */
  lastSeen: Float64Array;
}

/** Detection of this frame with its embedding (index-aligned input split into usable ones). */
interface Candidate {
  det: Detection;
  xyah: Float64Array;
  embedding: Float32Array | undefined;
}

/**
 * DeepSORT (Wojke et al. 2017) on the shared Kalman filter and assignment solver, one instance per stream.
 *
 * Each `update(detections, appearance)`:
 *  1. predicts every track one frame ahead (a coasting track stops changing height, as in ByteTrack);
 *  2. matching cascade: confirmed tracks, most recently seen first (one age level at a time), against the
 *     detections that carry an embedding, cost = smallest cosine distance to the track's gallery, gated by the
 *     Kalman filter's squared Mahalanobis distance (chi-square 95 %, 4 dof; for a lost track also around where
 *     it was last seen) and by maxCosineDistance;
 *  3. IoU stage for what is left (tracks without a gallery, detections without an embedding, appearance that
 *     was too far): confirmed and unconfirmed tracks against the remaining detections, cost 1 - IoU with the
 *     predicted box, accepted at IoU >= matchIou, also gated by the Mahalanobis distance; tracks seen on the
 *     previous frame go first, then tracks lost longer (their predictions are less certain);
 *  4. an unconfirmed track that misses a frame is dropped; a confirmed one is kept while it has missed at most
 *     maxAge consecutive frames, so it can be matched again (by appearance at any distance the gate allows);
 *  5. every unmatched detection with score >= newTrackThreshold starts an unconfirmed track.
 * Matched embeddings are added to the track's gallery (newest first, `budget` kept). Only detections and tracks
 * of the same classId are associated; detections below minScore or with a non-finite or empty box are ignored.
 *
 * Reporting is ByteTracker's: ids from 1 on the minHits-th match, never reused; `update` returns the confirmed
 * tracks matched on this frame with the matched detection's box and, on frames where a new embedding joined
 * the gallery, `embedding` = the normalised gallery mean; `tracks()` lists every kept track with its mean.
 */
export class DeepSortTracker implements Tracker {
  readonly #config: DeepSortSettings;
  readonly #kf = new KalmanFilter();
  #tracks: DTrack[] = [];
  #frame = 0;
  #nextId = 1;

  constructor(config: Partial<DeepSortSettings> = {}) {
    this.#config = parseTrackerSettings(DeepSortConfig, { ...config, type: 'deepsort' }, 'DeepSORT');
  }

  /** The settings in use, defaults filled in. */
  get config(): Readonly<DeepSortSettings> {
    return this.#config;
  }

  /**
   * Which of the next frame's detections need an embedding. One needs none when it overlaps (IoU >= REUSE_IOU)
   * a track matched on the last frame whose newest embedding is less than embedEvery frames old, no other
   * detection claims that track the same way, and no other track, lost ones included, overlaps it
   * (IoU > AMBIGUOUS_IOU): everything else (new, re-appearing, crowded or stale) gets one.
   * Detections below minScore or with an unusable box need none.
   */
  appearanceWanted(detections: readonly Detection[]): boolean[] {
    const tracks = this.#tracks.filter((t) => t.confirmed || t.lastFrame === this.#frame);
    const boxes = tracks.map((t) => xyahToBox(t.kf.mean));
    const next = this.#frame + 1;
    const owners = detections.map((d) => {
      if (!isUsableDetection(d) || d.score < this.#config.minScore) return null;
      let owner: DTrack | undefined;
      let overlaps = 0;
      tracks.forEach((t, i) => {
        if (t.classId !== d.classId) return;
        const v = iou(boxes[i] as Box, d.box);
        if (v > AMBIGUOUS_IOU) overlaps++;
        if (v >= REUSE_IOU && t.lastFrame === this.#frame) owner = t;
      });
      return overlaps === 1 ? owner : undefined;
    });
    const claims = new Map<DTrack, number>();
    for (const o of owners) if (o) claims.set(o, (claims.get(o) ?? 0) + 1);
    return owners.map((owner) => {
      if (owner === null) return false;
      if (!owner || claims.get(owner) !== 1) return true;
      return owner.embeddedFrame === 0 || next - owner.embeddedFrame >= this.#config.embedEvery;
    });
  }

  update(detections: Detection[], appearance?: Appearance): Track[] {
    checkUpdateInput(detections, appearance);
    const cfg = this.#config;
    const frame = ++this.#frame;
    const candidates: Candidate[] = [];
    detections.forEach((det, i) => {
      if (!isUsableDetection(det) || det.score < cfg.minScore) return;
      candidates.push({ det, xyah: boxToXyah(det.box), embedding: appearance?.embeddings[i] });
    });

    for (const t of this.#tracks) {
      if (t.lastFrame < frame - 1) t.kf.mean[7] = 0;
      this.#kf.predict(t.kf);
    }

    let free = candidates.map((_, j) => j);
    const matched = new Set<DTrack>();
    const match = (t: DTrack, j: number): void => {
      this.#hit(t, candidates[j] as Candidate, frame);
      matched.add(t);
    };

    // Matching cascade by age: appearance against confirmed tracks, the most recently seen first.
    // A track whose own detection came without an embedding (appearanceWanted let it reuse its gallery) stays
    // out of the cascade, so a neighbour's embedded detection cannot take it before the IoU stage.
    const reserved = this.#reservedTracks(candidates, frame);
    const confirmed = this.#tracks.filter((t) => t.confirmed && t.gallery.size > 0 && !reserved.has(t));
    // Kept tracks have missed at most maxAge frames, so they are at most maxAge + 1 frames old here.
    for (let level = 1; level <= cfg.maxAge + 1 && free.length; level++) {
      const tracks = confirmed.filter((t) => frame - t.lastFrame === level);
      if (tracks.length === 0) continue;
      const cols = free.filter((j) => candidates[j]!.embedding);
      if (cols.length === 0) break;
      const result = linearAssignment(this.#appearanceCosts(tracks, cols, candidates), cfg.maxCosineDistance);
      const taken = new Set<number>();
      for (const [ti, ci] of result.matches) {
        match(tracks[ti] as DTrack, cols[ci] as number);
        taken.add(cols[ci] as number);
      }
      free = free.filter((j) => !taken.has(j));
    }

    // IoU stage: whatever appearance did not settle. Confirmed tracks seen last frame, then lost ones (their
    // predictions are less certain), then unconfirmed ones, so a tentative track born next to a hidden person
    // cannot take the detection that person's track needs.
    const rest = this.#tracks.filter((t) => !matched.has(t));
    const stages = [
      rest.filter((t) => t.confirmed && frame - t.lastFrame === 1),
      rest.filter((t) => t.confirmed && frame - t.lastFrame > 1),
      rest.filter((t) => !t.confirmed),
    ];
    for (const tracks of stages) {
      if (tracks.length === 0 || free.length === 0) continue;
      const result = linearAssignment(this.#iouCosts(tracks, free, candidates), 1 - cfg.matchIou);
      const taken = new Set<number>();
      for (const [ti, ci] of result.matches) {
        match(tracks[ti] as DTrack, free[ci] as number);
        taken.add(free[ci] as number);
      }
      free = free.filter((j) => !taken.has(j));
    }

    const kept = this.#tracks.filter(
      (t) => matched.has(t) || (t.confirmed && frame - t.lastFrame <= cfg.maxAge),
    );
    for (const j of free) {
      const c = candidates[j] as Candidate;
      if (c.det.score < cfg.newTrackThreshold) continue;
      const t: DTrack = {
        id: 0,
        kf: this.#kf.initiate(c.xyah),
        confirmed: false,
        score: c.det.score,
        classId: c.det.classId,
        label: c.det.label,
        startFrame: frame,
        lastFrame: frame,
        hits: 0,
        gallery: new FeatureGallery(cfg.budget),
        embeddedFrame: 0,
        lastSeen: c.xyah,
        lastBox: c.det.box,
        lastMask: c.det.mask,
        ...(c.det.classes ? { lastClasses: c.det.classes } : {}),
      };
      this.#addEmbedding(t, c.embedding, frame);
      confirmOnHit(t, this.#config.minHits, () => this.#nextId++);
      kept.push(t);
    }
    this.#tracks = kept;

    return this.#tracks
      .filter((t) => t.confirmed && t.lastFrame === frame)
      .map((t) => this.#toTrack(t, true))
      .sort((a, b) => a.trackId - b.trackId);
  }

  tracks(): Track[] {
    return this.#tracks
      .filter((t) => t.confirmed)
      .map((t) => this.#toTrack(t))
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

  /** Tracks matched last frame that a detection without an embedding overlaps by REUSE_IOU or more (best one). */
  #reservedTracks(candidates: readonly Candidate[], frame: number): Set<DTrack> {
    const reserved = new Set<DTrack>();
    const recent = this.#tracks.filter((t) => t.lastFrame === frame - 1);
    for (const c of candidates) {
      if (c.embedding) continue;
      let best: DTrack | undefined;
      let bestIou = REUSE_IOU;
      for (const t of recent) {
        if (t.classId !== c.det.classId) continue;
        const v = iou(t.lastBox, c.det.box);
        if (v >= bestIou) {
          best = t;
          bestIou = v;
        }
      }
      if (best) reserved.add(best);
    }
    return reserved;
  }

  /** Smallest cosine distance to each track's gallery; Infinity across classes or outside the motion gate. */
  #appearanceCosts(tracks: readonly DTrack[], cols: readonly number[], candidates: Candidate[]): CostMatrix {
    const gate = this.#gates(tracks, cols, candidates, true);
    const data = new Float64Array(tracks.length * cols.length);
    tracks.forEach((t, i) => {
      cols.forEach((j, k) => {
        const c = candidates[j] as Candidate;
        const o = i * cols.length + k;
        data[o] = gate[o]! ? t.gallery.distance(c.embedding as Float32Array) : Number.POSITIVE_INFINITY;
      });
    });
    return { rows: tracks.length, cols: cols.length, data };
  }

  /** 1 - IoU between each track's predicted box and each detection; Infinity across classes or outside the gate. */
  #iouCosts(tracks: readonly DTrack[], cols: readonly number[], candidates: Candidate[]): CostMatrix {
    const gate = this.#gates(tracks, cols, candidates);
    const data = new Float64Array(tracks.length * cols.length);
    tracks.forEach((t, i) => {
      const tb = xyahToBox(t.kf.mean);
      cols.forEach((j, k) => {
        const o = i * cols.length + k;
        data[o] = gate[o]! ? 1 - iou(tb, (candidates[j] as Candidate).det.box) : Number.POSITIVE_INFINITY;
      });
    });
    return { rows: tracks.length, cols: cols.length, data };
  }

  /**
   * 1 where track i and detection cols[k] are the same class and inside the Mahalanobis gate (chi-square 95 %,
   * 4 dof), else 0. With `orLastSeen`, a lost track's gate is also centred where it was last seen (same
   * covariance): people stop or turn back while hidden, which a constant-velocity prediction cannot know.
   */
  #gates(
    tracks: readonly DTrack[],
    cols: readonly number[],
    candidates: Candidate[],
    orLastSeen = false,
  ): Uint8Array {
    const out = new Uint8Array(tracks.length * cols.length);
    const limit = CHI2_INV_95[4] as number;
    const measurements = cols.map((j) => (candidates[j] as Candidate).xyah);
    const frame = this.#frame;
    tracks.forEach((t, i) => {
      const d2 = this.#kf.gatingDistance(t.kf, measurements);
      const seen =
        orLastSeen && frame - t.lastFrame > 1
          ? this.#kf.gatingDistance(
              { mean: withPosition(t.kf.mean, t.lastSeen), covariance: t.kf.covariance },
              measurements,
            )
          : undefined;
      cols.forEach((j, k) => {
        const inside = d2[k]! <= limit || (seen !== undefined && seen[k]! <= limit);
        out[i * cols.length + k] = (candidates[j] as Candidate).det.classId === t.classId && inside ? 1 : 0;
      });
    });
    return out;
  }

  #hit(t: DTrack, c: Candidate, frame: number): void {
    this.#kf.update(t.kf, c.xyah);
    t.lastSeen = c.xyah;
    t.lastBox = c.det.box;
    t.lastMask = c.det.mask;
    if (c.det.classes) t.lastClasses = c.det.classes;
    t.score = c.det.score;
    t.lastFrame = frame;
    this.#addEmbedding(t, c.embedding, frame);
    confirmOnHit(t, this.#config.minHits, () => this.#nextId++);
  }

  #addEmbedding(t: DTrack, embedding: Float32Array | undefined, frame: number): void {
    if (!embedding) return;
    t.gallery.add(embedding);
    t.embeddedFrame = frame;
  }

  #toTrack(t: DTrack, fresh = false): Track {
    // The gallery mean goes out when it changed on this frame (tracks() always has it): 512 numbers per track
    // per frame would swamp every sink.
    const embedding = fresh && t.embeddedFrame !== this.#frame ? undefined : t.gallery.mean();
    return { ...reportTrack(t, this.#frame), ...(embedding ? { embedding } : {}) };
  }
}

/** A copy of an 8-d state mean with its box part (cx, cy, a, h) replaced by `xyah`. */
function withPosition(mean: Float64Array, xyah: Float64Array): Float64Array {
  const out = Float64Array.from(mean);
  out.set(xyah.subarray(0, 4), 0);
  return out;
}
