/** A tiny download progress renderer: a redrawn bar on a TTY, plain periodic lines otherwise. */

/** A stream progress can go to; isTTY / columns are read when present (process.stderr has both). */
export type ProgressStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

/** Options for DownloadProgress. */
export interface DownloadProgressOptions {
  /** Where to write. */
  stream: ProgressStream;
  /** Text before the bar, e.g. the file name. */
  label: string;
  /** Expected total bytes; undefined or 0 shows bytes only. */
  total?: number;
  /** Draw a redrawn bar (true) or plain lines (false). Default stream.isTTY === true. */
  tty?: boolean;
  /** Least time between TTY redraws. Default 100 ms. */
  redrawMs?: number;
  /** Plain mode: also print a line when this long passed since the last one. Default 5000 ms. */
  lineMs?: number;
  /** Clock, for tests. Default performance.now. */
  now?: () => number;
}

/** "3.5 MiB" style sizes (binary units). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0)
    throw new RangeError(`Expected a non-negative number for bytes but received ${n} of type ${typeof n}`);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Progress of one download; call update() with the running byte count and finish() once. */
export class DownloadProgress {
  readonly #stream: ProgressStream;
  readonly #label: string;
  readonly #total: number;
  readonly #tty: boolean;
  readonly #redrawMs: number;
  readonly #lineMs: number;
  readonly #now: () => number;
  readonly #start: number;
  #bytes = 0;
  #lastDraw = Number.NEGATIVE_INFINITY;
  #lastQuarter = 0;
  #finished = false;

  constructor(options: DownloadProgressOptions) {
    this.#stream = options.stream;
    this.#label = options.label;
    this.#total = options.total && options.total > 0 ? options.total : 0;
    this.#tty = options.tty ?? options.stream.isTTY === true;
    this.#redrawMs = options.redrawMs ?? 100;
    this.#lineMs = options.lineMs ?? 5000;
    this.#now = options.now ?? (() => performance.now());
    this.#start = this.#now();
    if (!this.#tty)
      this.#line(`${this.#label}: downloading${this.#total ? ` ${formatBytes(this.#total)}` : ''}`);
    this.#lastDraw = this.#start;
  }

  /** Record that `bytes` bytes have arrived in total so far. */
  update(bytes: number): void {
    if (this.#finished) return;
    this.#bytes = bytes;
    const t = this.#now();
    if (this.#tty) {
      if (t - this.#lastDraw >= this.#redrawMs) {
        this.#lastDraw = t;
        this.#stream.write(`\r\x1b[K${this.#render(t)}`);
      }
      return;
    }
    const quarter = this.#total ? Math.floor((4 * bytes) / this.#total) : 0;
    if ((quarter > this.#lastQuarter && quarter < 4) || t - this.#lastDraw >= this.#lineMs) {
      this.#lastQuarter = Math.max(quarter, this.#lastQuarter);
      this.#lastDraw = t;
      this.#line(this.#render(t));
    }
  }

  /** Print the final state: done, or failed with a reason. Later calls do nothing. */
  finish(error?: string): void {
    if (this.#finished) return;
    this.#finished = true;
    const t = this.#now();
    const text = error
      ? `${this.#label}: failed after ${formatBytes(this.#bytes)}: ${error}`
      : this.#render(t, true);
    if (this.#tty) this.#stream.write(`\r\x1b[K${text}\n`);
    else this.#line(text);
  }

  #line(text: string): void {
    this.#stream.write(`${text}\n`);
  }

  #render(t: number, done = false): string {
    const seconds = Math.max((t - this.#start) / 1000, 1e-3);
    const rate = `${formatBytes(Math.round(this.#bytes / seconds))}/s`;
    const amount = this.#total
      ? `${formatBytes(this.#bytes)} / ${formatBytes(this.#total)}`
      : formatBytes(this.#bytes);
    if (done) return `${this.#label}: done, ${formatBytes(this.#bytes)} in ${seconds.toFixed(1)} s (${rate})`;
    if (!this.#total) return `${this.#label}: ${amount} ${rate}`;
    const fraction = Math.min(this.#bytes / this.#total, 1);
    const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
    if (!this.#tty) return `${this.#label}: ${percent} ${amount} ${rate}`;
    const width = Math.max(10, Math.min(30, (this.#stream.columns ?? 80) - this.#label.length - 45));
    const filled = Math.round(fraction * width);
    return `${this.#label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${percent} ${amount} ${rate}`;
  }
}
