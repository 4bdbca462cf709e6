/**
 * The per-frame metadata of the `meta` data channel (docs/webrtc.md; FrameMetaSchema of shared/src/signalling.ts):
 * built from a held frame and its outcome.
 */
import {
  type ClassLabel,
  type FrameMeta,
  type FrameSegmentation,
  META_LABELS_MAX,
  type MetaLabel,
  type MetaSegmentation,
  nowMs,
  type Track,
} from '@sightline/shared';
import type { HeldFrame, HoldOutcome } from './frame-hold.ts';

/** One decimal: ms and pixels on the wire. */
export const round1 = (v: number): number => Math.round(v * 10) / 10;

/**
 * Most numbers of a class map's `runs` sent (pairs x 2): beyond it the map is left out and only the class areas go
 * (a message must fit werift's 64 KiB SCTP messages; ~3.5 bytes a number in JSON).
 */
export const MAX_META_RUNS = 12_000;

/** Top labels on the wire: at most META_LABELS_MAX, scores to 2 decimals. */
const labels = (ls: readonly ClassLabel[]): MetaLabel[] =>
  ls.slice(0, META_LABELS_MAX).map((c) => ({ l: c.label, s: Math.round(c.score * 100) / 100 }));

/** A segmentation on the wire: class areas to 4 decimals, and the class map unless it is too long to send. */
export function metaSegmentation(seg: FrameSegmentation): MetaSegmentation {
  const classes = seg.classes.map((c) => ({
    c: c.classId,
    l: c.label,
    f: Math.round(c.fraction * 10_000) / 10_000,
  }));
  const map = seg.map;
  return map && map.runs.length <= MAX_META_RUNS
    ? { classes, map: { w: map.w, h: map.h, runs: map.runs } }
    : { classes };
}

/**
 * The metadata of `frame` sent at RTP timestamp `rtp`: its tracks that pass `trackFilter` (with their masks and
 * crop labels), the frame's labels and segmentation (when its stages made them) when it has a result, else an empty skipped record sized from the dropped frame or, failing that, `size`.
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
        ...(t.classes?.length ? { k: labels(t.classes) } : {}),
      })),
      ...(masks.length ? { masks } : {}),
      ...(r.classification?.length ? { cls: labels(r.classification) } : {}),
      ...(r.segmentation ? { seg: metaSegmentation(r.segmentation) } : {}),
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
