/** Clocks: wall-clock milliseconds comparable across worker threads, and the 90 kHz media clock. */
import { performance } from 'node:perf_hooks';

/** Presentation timestamps use the RTP video clock: 90,000 ticks per second. */
export const PTS_CLOCK_HZ = 90_000;

/** Milliseconds since the Unix epoch with sub-millisecond resolution; comparable between threads. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Convert seconds to 90 kHz ticks. */
export function secondsToPts(seconds: number): number {
  return Math.round(seconds * PTS_CLOCK_HZ);
}
