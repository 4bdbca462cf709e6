/** Run a tracker over MOTChallenge detections and collect its tracks as MOTChallenge result records. */
import type { Detection } from '@sightline/shared';
import { groupByFrame, type MotRecord, motBox } from '../tracking/mot-format.ts';
import type { Tracker } from '../tracking/tracker.ts';

/** Options of trackMotDetections. */
export interface TrackMotOptions {
  /** Run the tracker up to this frame even past the last detection (e.g. the gt's last frame). */
  lastFrame?: number;
}

/**
 * Feed `tracker` every frame from 1 to the last (frames without detections get an empty update) and return the
 * tracks it reports as records (frame, trackId, box, score). Detections become class 0 "person".
 */
export function trackMotDetections(
  tracker: Tracker,
  detections: readonly MotRecord[],
  options: TrackMotOptions = {},
): MotRecord[] {
  const byFrame = groupByFrame(detections);
  let lastFrame = options.lastFrame ?? 0;
  for (const f of byFrame.keys()) lastFrame = Math.max(lastFrame, f);
  const out: MotRecord[] = [];
  for (let frame = 1; frame <= lastFrame; frame++) {
    const dets: Detection[] = (byFrame.get(frame) ?? []).map((r) => ({
      box: motBox(r),
      score: r.conf,
      classId: 0,
      label: 'person',
    }));
    for (const t of tracker.update(dets)) {
      const [x1, y1, x2, y2] = t.box;
      out.push({
        frame,
        id: t.trackId,
        x: x1,
        y: y1,
        w: x2 - x1,
        h: y2 - y1,
        conf: t.score,
        extra: [-1, -1, -1],
      });
    }
  }
  return out;
}
