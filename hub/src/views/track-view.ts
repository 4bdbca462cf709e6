/** The JSON shape of a stored track, as the REST API and the similar-track search return it. */
import type { TrackRecord } from '../store/tracks.ts';
import { formatTrackKey } from '../store/tracks.ts';

/** A track as the API shows it (`id` is `edgeId:streamId:run:trackId`). */
export interface TrackView {
  id: string;
  edgeId: string;
  streamId: string;
  run: string;
  trackId: number;
  label: string;
  classId: number;
  firstSeen: string;
  lastSeen: string;
  /** URL of the best crop, when the track has one. */
  thumbnail?: string;
  /** The labels its crop was classified with last (stage "classify"), best first. */
  classes?: { classId: number; label: string; score: number }[];
}

/** `/api/v1/thumbnails/<sha>` for a stored thumbnail. */
export function thumbnailUrl(sha256: string | null | undefined): string | undefined {
  return sha256 ? `/api/v1/thumbnails/${sha256}` : undefined;
}

/** The API shape of a stored track. */
export function trackView(t: TrackRecord): TrackView {
  return {
    id: formatTrackKey(t),
    edgeId: t.edgeId,
    streamId: t.streamId,
    run: t.run,
    trackId: t.trackId,
    label: t.label,
    classId: t.classId,
    firstSeen: t.firstSeen.toISOString(),
    lastSeen: t.lastSeen.toISOString(),
    ...(t.bestThumbnail ? { thumbnail: thumbnailUrl(t.bestThumbnail) } : {}),
    ...(t.classes ? { classes: t.classes } : {}),
  };
}
