import type { ChildProcess } from 'node:child_process';
/** Helpers for end-to-end tests of the edge runtime: data paths, waiting on runtime events, result gaps. */

import type { EdgeRuntime } from '@sightline/edge';
import type { Box, FrameResult, StreamStats } from '@sightline/shared';
import { media, waitForEvent } from '../helpers/wait.ts';

export function modelsDir(): string {
  const dir = process.env.MODELS_DIR;
  if (!dir) throw new Error('MODELS_DIR is not set; run tests with node scripts/run-tests.mjs');
  return dir;
}

/**
 * Largest pause allowed between two results of a healthy realtime 10 fps stream while other streams fail
 * or reconnect (nominal 100 ms). SIGHTLINE_TEST_MAX_RESULT_GAP_MS loosens it on a starved machine.
 */
export const MAX_RESULT_GAP_MS = Number(process.env.SIGHTLINE_TEST_MAX_RESULT_GAP_MS ?? 1500);

/** Resolve with the first value `check` returns for a `name` event; reject after `ms` with the stream stats. */
export function waitForRuntime<T>(
  runtime: EdgeRuntime,
  name: 'result' | 'stream-state',
  check: (...args: never[]) => T | undefined,
  ms: number,
  what: string = name,
): Promise<T> {
  return waitForEvent(runtime, name, check, ms, what, () => `: ${JSON.stringify(runtime.stats())}`);
}

/** Wait until `streamId` has emitted `n` results in all (counting from when this is called). */
export function waitForResults(
  runtime: EdgeRuntime,
  streamId: string,
  n: number,
  ms: number,
): Promise<FrameResult[]> {
  const got: FrameResult[] = [];
  return waitForRuntime(
    runtime,
    'result',
    ((r: FrameResult) => {
      if (r.streamId !== streamId) return undefined;
      got.push(r);
      return got.length >= n ? got : undefined;
    }) as never,
    ms,
    `${n} results of ${streamId}`,
  );
}

/** Wait until `streamId` enters `state` (resolves at once when it is already there). */
export function waitForStreamState(
  runtime: EdgeRuntime,
  streamId: string,
  state: StreamStats['state'],
  ms: number,
): Promise<string | undefined> {
  const now = statsOf(runtime, streamId);
  if (now.state === state) return Promise.resolve(now.lastError);
  return waitForRuntime(
    runtime,
    'stream-state',
    ((id: string, s: StreamStats['state'], error?: string) =>
      id === streamId && s === state ? (error ?? '') : undefined) as never,
    ms,
    `${streamId} to be ${state}`,
  );
}

/** The stats of one stream (throws when the runtime has no such stream). */
export function statsOf(runtime: EdgeRuntime, streamId: string): StreamStats {
  const s = runtime.stats().find((x) => x.streamId === streamId);
  if (!s) throw new Error(`no stream ${streamId}`);
  return s;
}

/** Measures the largest wall-clock pause between consecutive results of one stream, between begin() and end(). */
export class ResultGapMeter {
  results = 0;
  maxGap = 0;
  lastSeq = -1;
  #last = 0;
  #measuring = false;
  constructor(runtime: EdgeRuntime, streamId: string) {
    runtime.on('result', (r) => {
      if (r.streamId !== streamId) return;
      const now = performance.now();
      if (this.#measuring) {
        this.results++;
        if (this.#last > 0) this.maxGap = Math.max(this.maxGap, now - this.#last);
      }
      this.#last = now;
      this.lastSeq = r.seq;
    });
  }
  begin(): void {
    this.#measuring = true;
    this.maxGap = 0;
    this.results = 0;
    this.#last = performance.now();
  }
  /** Stop measuring; the gap since the last result counts too, so a stream that stopped altogether fails. */
  end(): number {
    if (this.#measuring) this.maxGap = Math.max(this.maxGap, performance.now() - this.#last);
    this.#measuring = false;
    return this.maxGap;
  }
}

export function iou(a: Box, b: Box): number {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  const area = (r: Box) => (r[2] - r[0]) * (r[3] - r[1]);
  return inter / (area(a) + area(b) - inter);
}

export { media };

/** What a finished `sightline` command printed and how it exited. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Collect a spawned `sightline` command's output until it exits; kill it and reject after `timeoutMs`. */
export function collectRun(child: ChildProcess, args: readonly string[], timeoutMs: number): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
  });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`sightline ${args.join(' ')} did not exit in ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
