/** What the trackers share besides the Kalman filter and the solver: input checks, confirmation, reporting. */
import {
  type Box,
  type ClassLabel,
  ConfigError,
  type Detection,
  type Mask,
  type Track,
} from '@sightline/shared';
import type { z } from 'zod';
import type { KalmanState } from './kalman.ts';
import { xyahToBox } from './kalman.ts';
import type { Appearance } from './tracker.ts';

/** The fields every tracker keeps per track. */
export interface TrackCore {
  /** Public id, 0 until confirmed. */
  id: number;
  kf: KalmanState;
  confirmed: boolean;
  score: number;
  classId: number;
  label: string;
  startFrame: number;
  /** Last frame the track was matched on. */
  lastFrame: number;
  hits: number;
  /** The box of the detection matched last. */
  lastBox: Box;
  /** That detection's mask, when the model makes masks. */
  lastMask?: Mask;
  /** The labels of the last classified detection matched (stage "classify"). */
  lastClasses?: ClassLabel[];
}

/** Parse tracker settings with `schema`; a bad field throws ConfigError ("Invalid <name> config", one line each). */
export function parseTrackerSettings<S extends z.ZodType>(
  schema: S,
  input: unknown,
  name: string,
): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      `Invalid ${name} config`,
      parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
    );
  }
  return parsed.data;
}

/** Throw a clear error for a non-array detection list or an embedding list of another length. */
export function checkUpdateInput(detections: unknown, appearance: Appearance | undefined): void {
  if (!Array.isArray(detections)) {
    throw new TypeError(`Expected an array for detections but received ${typeof detections}`);
  }
  if (appearance && appearance.embeddings.length !== detections.length) {
    throw new RangeError(
      `Expected one embedding entry per detection (${detections.length}) but received ${appearance.embeddings.length}`,
    );
  }
}

/**
 * Count a match; confirm the track (and give it `nextId()`) on its minHits-th one, or at once when it was born
 * on the first frame (ByteTrack's rule: what is there when the camera comes up is the scene, not a spurious birth).
 */
export function confirmOnHit(t: TrackCore, minHits: number, nextId: () => number): void {
  t.hits++;
  if (!t.confirmed && (t.hits >= minHits || t.startFrame === 1)) {
    t.confirmed = true;
    t.id = nextId();
  }
}

/** The public view of a track at `frame`: the matched detection's box when matched now, else the prediction. */
export function reportTrack(t: TrackCore, frame: number): Track {
  const since = frame - t.lastFrame;
  return {
    ...(since === 0 && t.lastMask ? { mask: t.lastMask } : {}),
    ...(t.lastClasses ? { classes: t.lastClasses } : {}),
    trackId: t.id,
    box: since === 0 ? t.lastBox : xyahToBox(t.kf.mean),
    score: t.score,
    classId: t.classId,
    label: t.label,
    status: since === 0 ? 'confirmed' : 'lost',
    age: frame - t.startFrame,
    hits: t.hits,
    timeSinceUpdate: since,
  };
}

/** A detection with a finite, non-empty box and a finite score; trackers ignore the others. */
export function isUsableDetection(d: Detection): boolean {
  const [x1, y1, x2, y2] = d.box;
  return (
    Number.isFinite(x1) &&
    Number.isFinite(y1) &&
    Number.isFinite(x2) &&
    Number.isFinite(y2) &&
    x2 > x1 &&
    y2 > y1 &&
    Number.isFinite(d.score)
  );
}
