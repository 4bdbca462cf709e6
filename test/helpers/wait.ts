/** Test helpers shared by the source and end-to-end suites: data paths and waiting on events with a deadline. */
import type { EventEmitter } from 'node:events';
import { join } from 'node:path';

/** Path of a shared sample file ($SIGHTLINE_MEDIA_DIR, set by scripts/run-tests.mjs). */
export function media(name: string): string {
  const dir = process.env.SIGHTLINE_MEDIA_DIR;
  if (!dir) throw new Error('SIGHTLINE_MEDIA_DIR is not set; run tests with node scripts/run-tests.mjs');
  return join(dir, name);
}

/**
 * Resolve with the first value `check` returns (checked on each `name` event); reject after `ms` with
 * "timed out ... waiting for <what>" plus whatever `context()` says about the emitter's state.
 */
export function waitForEvent<T>(
  emitter: EventEmitter,
  name: string,
  check: (...args: never[]) => T | undefined,
  ms: number,
  what: string,
  context: () => string,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(name, listener as never);
      reject(new Error(`timed out after ${ms} ms waiting for ${what} ${context()}`));
    }, ms);
    const listener = (...args: never[]) => {
      const value = check(...args);
      if (value === undefined) return;
      clearTimeout(timer);
      emitter.off(name, listener as never);
      resolve(value);
    };
    emitter.on(name, listener as never);
  });
}

/** Resolve as `promise` does, or reject after `ms` with "<what> did not finish within <ms> ms" plus `context()`. */
export function within<T>(
  ms: number,
  what: string,
  promise: Promise<T>,
  context: () => string = () => '',
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not finish within ${ms} ms ${context()}`.trim())),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Resolve with the first value `fn` returns other than undefined, polling every `everyMs` (default 200); reject
 * after `ms` with "timed out ... waiting for <what>" and the last error `fn` threw, if any.
 */
export async function until<T>(
  what: string,
  ms: number,
  fn: () => T | undefined | Promise<T | undefined>,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`,
      );
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
