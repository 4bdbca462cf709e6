/** Helpers for source tests: media paths, waiting on events with a deadline, collecting frames. */

import type { DecodedFrame, SourceState, StreamSource } from '@sightline/edge';
import type { SourceError } from '@sightline/shared';
import { media, waitForEvent } from '../helpers/wait.ts';

/** Resolve when `check` returns a value (checked on each event of `name`), reject after `ms`. */
export function waitFor<T>(
  source: StreamSource,
  name: 'frame' | 'state' | 'error',
  check: (...args: never[]) => T | undefined,
  ms: number,
  what: string = name,
): Promise<T> {
  return waitForEvent(
    source,
    name,
    check,
    ms,
    what,
    () => `(state ${source.state}, ${JSON.stringify(source.stats())})`,
  );
}

/** Wait for `state`; returns the error that came with it. */
export function waitForState(
  source: StreamSource,
  state: SourceState,
  ms: number,
): Promise<{ error?: SourceError; retryInMs?: number }> {
  if (source.state === state) return Promise.resolve({});
  return waitFor(
    source,
    'state',
    ((s: SourceState, error?: SourceError, retryInMs?: number) =>
      s === state ? { error, retryInMs } : undefined) as never,
    ms,
    `state ${state}`,
  );
}

/** Collect the next `n` frames, releasing each. */
export function collectFrames(source: StreamSource, n: number, ms: number): Promise<DecodedFrame[]> {
  const frames: DecodedFrame[] = [];
  return waitFor(
    source,
    'frame',
    ((f: DecodedFrame) => {
      frames.push(f);
      source.release();
      return frames.length >= n ? frames : undefined;
    }) as never,
    ms,
    `${n} frames`,
  );
}

/** Tracks the largest gap between frames of a source while running. */
export class GapMeter {
  last = 0;
  maxGap = 0;
  frames = 0;
  #measuring = false;
  constructor(source: StreamSource) {
    source.on('frame', (f) => {
      if (this.#measuring && this.last > 0) this.maxGap = Math.max(this.maxGap, f.capturedAt - this.last);
      this.last = f.capturedAt;
      this.frames++;
      source.release();
    });
  }
  begin(): void {
    this.#measuring = true;
    this.maxGap = 0;
  }
  end(): number {
    this.#measuring = false;
    return this.maxGap;
  }
}

/**
 * Largest gap allowed between a realtime 10 fps source's frames while other sources fail or reconnect (nominal 100 ms).
 * A main thread blocked by demuxing or decoding shows gaps of seconds; SIGHTLINE_TEST_MAX_GAP_MS loosens it on a starved machine.
 */
export const MAX_GAP_MS = Number(process.env.SIGHTLINE_TEST_MAX_GAP_MS ?? 500);

export { media };
