/** A tile's figures: frame rate and latency from its log of displayed frames, bitrate and drops from WebRTC. */
/** @import { FrameRecord, StreamInfo, TileStats } from './types.js' */

/** Frames the latency percentiles are taken over. */
const LATENCY_WINDOW = 300;

/** @returns {TileStats} */
export const emptyStats = () => ({
  fps: 0,
  kbps: 0,
  latencyP50: 0,
  latencyP95: 0,
  dropped: 0,
  frames: 0,
  withMeta: 0,
  noMeta: 0,
});

/**
 * Frames displayed in the second before `nowEpoch`, and the p50 / p95 latency of the last 300 frames that had one.
 * @param {readonly FrameRecord[]} frames
 * @param {number} nowEpoch epoch ms
 * @returns {{ fps: number, latencyP50: number, latencyP95: number }}
 */
export function frameFigures(frames, nowEpoch) {
  const fps = frames.filter((f) => f.displayEpoch > nowEpoch - 1000).length;
  const lat = frames
    .slice(-LATENCY_WINDOW)
    .map((f) => f.latencyMs)
    .filter((x) => typeof x === 'number')
    .sort((a, b) => a - b);
  return {
    fps,
    latencyP50: lat.length ? (lat[Math.floor(lat.length * 0.5)] ?? 0) : 0,
    latencyP95: lat.length ? (lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.95))] ?? 0) : 0,
  };
}

/**
 * Takes a peer connection's inbound video stats into `s`: the bitrate since the last poll (`lastBytes`), frames
 * dropped (when reported).
 * @param {TileStats} s
 * @param {RTCStatsReport} report
 * @param {number | undefined} lastBytes bytes received at the last poll
 * @returns {number | undefined} bytes received now (for the next poll)
 */
export function inboundVideo(s, report, lastBytes) {
  let bytes = lastBytes;
  report.forEach((r) => {
    if (r.type !== 'inbound-rtp' || r.kind !== 'video') return;
    if (bytes !== undefined) s.kbps = Math.round(((r.bytesReceived - bytes) * 8) / 1000);
    bytes = r.bytesReceived;
    if (typeof r.framesDropped === 'number') s.dropped = Math.max(s.dropped, r.framesDropped);
  });
  return bytes;
}

/**
 * The stats line under a tile (HTML: numbers only).
 * @param {TileStats} s
 * @returns {string}
 */
export const statsHtml = (s) =>
  [
    `fps ${s.fps}`,
    `${s.kbps} kbit/s`,
    `dropped ${s.dropped}`,
    `latency p50 ${s.latencyP50.toFixed(0)} ms`,
    `p95 ${s.latencyP95.toFixed(0)} ms`,
    `no meta ${s.noMeta}`,
  ]
    .map((x) => `<span>${x}</span>`)
    .join('');

/**
 * A stream's video as the tile's note says it: codec, profile, size, rate, and why it is re-encoded.
 * @param {Partial<StreamInfo['video']>} v
 * @returns {string}
 */
export function videoNote(v) {
  const parts = [
    v.codec,
    v.profileLevelId && `profile-level-id ${v.profileLevelId}`,
    v.width && `${v.width}x${v.height}`,
    v.fps && `${v.fps} fps`,
  ];
  return [parts.filter(Boolean).join(' · '), v.transcoded ? `transcoded: ${v.note ?? ''}` : '']
    .filter(Boolean)
    .join(' — ');
}
