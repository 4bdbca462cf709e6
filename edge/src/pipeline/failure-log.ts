/** Logs a failure that repeats at frame rate without flooding: the first one, then at most one summary per interval. */
import { describeError } from '@sightline/shared';

/** Logger subset used (a pino logger fits). */
export interface FailureLogger {
  error(data: Record<string, unknown>, message: string): void;
}

export interface FailureLogOptions {
  /** Shortest time between two log lines of the same key. Default 10000 ms. */
  intervalMs?: number;
  /** Clock in ms. Default performance.now. */
  now?: () => number;
}

interface KeyState {
  /** Failures of this key so far. */
  failures: number;
  /** Failures since the last line that no line has reported yet. */
  suppressed: number;
  lastLoggedAt: number;
  lastError: string;
}

/**
 * One log line for the first failure of each key (e.g. each sink), then at most one line per `intervalMs` giving
 * how many failed since the last line (`suppressed`), the running total (`failures`) and the latest error.
 * `flush()` reports what is still unreported, e.g. at shutdown.
 */
export class FailureLog<K> {
  readonly #log: FailureLogger;
  readonly #message: string;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #keys = new Map<K, KeyState & { data: Record<string, unknown> }>();

  constructor(log: FailureLogger, message: string, options: FailureLogOptions = {}) {
    this.#log = log;
    this.#message = message;
    this.#intervalMs = options.intervalMs ?? 10_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Record one failure of `key`; `data` is added to its log lines. */
  failed(key: K, err: unknown, data: Record<string, unknown> = {}): void {
    const now = this.#now();
    const lastError = describeError(err);
    const state = this.#keys.get(key);
    if (!state) {
      this.#keys.set(key, { failures: 1, suppressed: 0, lastLoggedAt: now, lastError, data });
      this.#log.error(
        { ...data, err: lastError, failures: 1 },
        `${this.#message} (repeats are summarised every ${this.#intervalMs / 1000} s)`,
      );
      return;
    }
    state.failures++;
    state.suppressed++;
    state.lastError = lastError;
    if (now - state.lastLoggedAt >= this.#intervalMs) this.#summary(state, now);
  }

  /** Log a summary for every key with unreported failures. */
  flush(): void {
    const now = this.#now();
    for (const state of this.#keys.values()) if (state.suppressed > 0) this.#summary(state, now);
  }

  #summary(state: KeyState & { data: Record<string, unknown> }, now: number): void {
    this.#log.error(
      { ...state.data, err: state.lastError, failures: state.failures, suppressed: state.suppressed },
      `${this.#message} ${state.suppressed} more time(s) since the last report`,
    );
    state.suppressed = 0;
    state.lastLoggedAt = now;
  }
}
