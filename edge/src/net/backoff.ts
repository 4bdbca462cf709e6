/** Reconnect delays (sources, uplink, media signalling): exponential with jitter, capped, reset on success. */

/** How a network client waits between reconnect attempts. */
export interface BackoffOptions {
  /** First delay in ms. Default 500. */
  initialDelayMs?: number;
  /** Largest delay in ms. Default 10000. */
  maxDelayMs?: number;
  /** Each delay is the previous one times this. Default 2. */
  factor?: number;
  /** Random spread as a fraction of the delay (0.2 = +-20 %). Default 0.2. */
  jitter?: number;
}

function check(name: string, value: unknown, min: number, max = Number.POSITIVE_INFINITY): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    const range =
      max === Number.POSITIVE_INFINITY ? `a number >= ${min}` : `a number between ${min} and ${max}`;
    throw new RangeError(
      `Expected ${range} for ${name} but received ${String(value)} of type ${typeof value}`,
    );
  }
  return value;
}

/** Computes successive reconnect delays. Pure apart from the injected random source. */
export class Backoff {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly factor: number;
  readonly jitter: number;
  #attempt = 0;
  #random: () => number;

  constructor(options: BackoffOptions = {}, random: () => number = Math.random) {
    this.initialDelayMs = check('initialDelayMs', options.initialDelayMs ?? 500, 0);
    this.maxDelayMs = check('maxDelayMs', options.maxDelayMs ?? 10_000, this.initialDelayMs);
    this.factor = check('factor', options.factor ?? 2, 1);
    this.jitter = check('jitter', options.jitter ?? 0.2, 0, 1);
    this.#random = random;
  }

  /** Attempts since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The delay before the next attempt, in ms (grows until maxDelayMs). */
  next(): number {
    const base = Math.min(this.maxDelayMs, this.initialDelayMs * this.factor ** this.#attempt);
    this.#attempt++;
    const spread = base * this.jitter * (2 * this.#random() - 1);
    return Math.round(Math.min(this.maxDelayMs, Math.max(0, base + spread)));
  }

  /** Start again from initialDelayMs (after a successful connection). */
  reset(): void {
    this.#attempt = 0;
  }
}
