/** FrameResult fixtures for the sink tests. */
import type { FrameResult, Track } from '@sightline/shared';

/** A track with a box at (x, y) of 40x80 and the given id. */
export function track(trackId: number, x: number, y: number, extra: Partial<Track> = {}): Track {
  return {
    trackId,
    box: [x, y, x + 40.123, y + 80.456],
    score: 0.87654,
    classId: 0,
    label: 'person',
    status: 'confirmed',
    age: 3,
    hits: 4,
    timeSinceUpdate: 0,
    ...extra,
  };
}

/** A FrameResult of one stream and frame with the given tracks. */
export function frameResult(streamId: string, seq: number, tracks: Track[]): FrameResult {
  return {
    streamId,
    seq,
    pts: seq * 9000,
    width: 640,
    height: 480,
    capturedAt: 1_700_000_000_000 + seq * 100,
    detections: tracks.map((t) => ({ box: t.box, score: t.score, classId: t.classId, label: t.label })),
    tracks,
    timings: { inferMs: 5.5, trackMs: 0.25 },
  };
}
