/**
 * The per-frame metadata of the `meta` data channel (docs/webrtc.md; FrameMetaSchema of shared/src/signalling.ts):
 * built from a held frame and its outcome.
 */
import { type FrameMeta, nowMs, type Track } from '@sightline/shared';
import type { HeldFrame, HoldOutcome } from './frame-hold.ts';

/** One decimal: ms and pixels on the wire. */
export const round1 = (v: number): number => Math.round(v * 10) / 10;

/**
 * The metadata of `frame` sent at RTP timestamp `rtp`: its tracks that pass `trackFilter` (with their masks) when it
 * has a result, else an empty skipped record sized from the dropped frame or, failing that, `size`.
 */
export function frameMeta(
  frame: HeldFrame,
  outcome: HoldOutcome,
  rtp: number,
  options: { trackFilter: (track: Track) => boolean; size: { width: number; height: number } },
): FrameMeta {
  if (outcome.kind === 'result') {
    const r = outcome.result;
    const tracks = r.tracks.filter(options.trackFilter);
    const masks = tracks.flatMap((t) => (t.mask ? [{ id: t.trackId, ...t.mask }] : []));
    return {
      v: 1,
      rtp,
      seq: r.seq,
      pts: frame.pts,
      w: r.width,
      h: r.height,
      t: round1(r.capturedAt),
      sent: round1(nowMs()),
      tracks: tracks.map((t) => ({
        id: t.trackId,
        c: t.classId,
        l: t.label,
        s: Math.round(t.score * 100) / 100,
        b: [round1(t.box[0]), round1(t.box[1]), round1(t.box[2]), round1(t.box[3])],
      })),
      ...(masks.length ? { masks } : {}),
      skipped: false,
    };
  }
  const f = outcome.kind === 'dropped' ? outcome.frame : undefined;
  return {
    v: 1,
    rtp,
    seq: f?.seq ?? -1,
    pts: frame.pts,
    w: f?.width ?? options.size.width,
    h: f?.height ?? options.size.height,
    t: round1(f?.capturedAt ?? frame.arrivedWall),
    sent: round1(nowMs()),
    tracks: [],
    skipped: true,
  };
}
