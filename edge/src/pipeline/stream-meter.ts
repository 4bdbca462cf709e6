/** Rolling rate and latency percentiles for one stream (last few seconds / last few hundred frames). */

export class StreamMeter {
  #latencies: Float64Array;
  #latencyCount = 0;
  #latencyNext = 0;
  #times: number[] = [];
  #first: number | undefined;
  readonly #windowMs: number;

  /** @param samples latencies kept for percentiles. Default 300. @param windowMs rate window. Default 2000. */
  constructor(samples = 300, windowMs = 2000) {
    this.#latencies = new Float64Array(samples);
    this.#windowMs = windowMs;
  }

  /** Record one processed frame at time `now` with its end-to-end latency. */
  record(now: number, latencyMs: number): void {
    this.#latencies[this.#latencyNext] = latencyMs;
    this.#latencyNext = (this.#latencyNext + 1) % this.#latencies.length;
    this.#latencyCount = Math.min(this.#latencyCount + 1, this.#latencies.length);
    this.#first ??= now;
    this.#times.push(now);
    this.#trim(now);
  }

  /** Frames per second over the rate window ending at `now` (or since the first frame, when younger). */
  fps(now: number): number {
    this.#trim(now);
    if (this.#first === undefined) return 0;
    const span = Math.min(this.#windowMs, now - this.#first);
    return span > 0 ? (this.#times.length * 1000) / span : 0;
  }

  /** The p-th percentile (0..100) of recent latencies, 0 when none. */
  percentile(p: number): number {
    if (this.#latencyCount === 0) return 0;
    const sorted = Array.from(this.#latencies.subarray(0, this.#latencyCount)).sort((a, b) => a - b);
    const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[i]!;
  }

  #trim(now: number): void {
    let drop = 0;
    while (drop < this.#times.length && now - this.#times[drop]! >= this.#windowMs) drop++;
    if (drop) this.#times.splice(0, drop);
  }
}
