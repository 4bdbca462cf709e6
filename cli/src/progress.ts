/** Live per-stream progress: redrawn lines on a terminal, periodic plain lines otherwise, JSON lines with --json. */
import { type StreamStats, setLogWriter } from '@sightline/shared';

export function formatStreamLine(s: StreamStats): string {
  const dropped = s.droppedOverflow + s.droppedStale;
  return [
    s.streamId.padEnd(10),
    s.state.padEnd(12),
    `${s.fps.toFixed(1).padStart(6)} fps`,
    `${String(s.framesInferred).padStart(7)} frames`,
    `p50 ${s.latencyP50Ms.toFixed(0).padStart(4)} ms`,
    `p95 ${s.latencyP95Ms.toFixed(0).padStart(4)} ms`,
    `${String(s.activeTracks).padStart(3)} tracks`,
    `${String(dropped).padStart(5)} dropped`,
    s.inferErrors ? `${s.inferErrors} infer errors` : '',
    s.reconnects ? `${s.reconnects} reconnects` : '',
    s.lastError && s.state !== 'running' ? `  ${s.lastError}` : '',
  ]
    .filter(Boolean)
    .join('  ');
}

export interface ProgressOptions {
  stream: NodeJS.WriteStream;
  /** Print one JSON object per tick instead of text. Default false. */
  json?: boolean;
  /** Milliseconds between updates. Default 1000 on a terminal, 5000 otherwise. */
  intervalMs?: number;
}

export class ProgressPrinter {
  /** Progress lines on the terminal now, below everything else (0 when none, or not on a terminal). */
  #lines = 0;
  /** The progress lines last drawn, to draw again below a notice or a log line. */
  #last: string[] = [];
  #timer?: NodeJS.Timeout;
  readonly #options: ProgressOptions;
  readonly #tty: boolean;

  constructor(options: ProgressOptions) {
    this.#options = options;
    this.#tty = !options.json && Boolean(options.stream.isTTY);
  }

  start(snapshot: () => StreamStats[]): void {
    const interval = this.#options.intervalMs ?? (this.#tty || this.#options.json ? 1000 : 5000);
    this.#timer = setInterval(() => this.print(snapshot()), interval);
    this.#timer.unref();
    // On a terminal, log lines go above the progress lines instead of into them.
    if (this.#tty) setLogWriter((text) => this.note(text));
  }

  print(stats: StreamStats[]): void {
    const out = this.#options.stream;
    if (this.#options.json) {
      out.write(`${JSON.stringify({ type: 'stats', at: new Date().toISOString(), streams: stats })}\n`);
      return;
    }
    const lines = stats.map(formatStreamLine);
    if (this.#tty && this.#lines) out.write(`\x1b[${this.#lines}F\x1b[J`);
    out.write(`${lines.join('\n')}\n`);
    this.#lines = this.#tty ? lines.length : 0;
    this.#last = this.#tty ? lines : [];
  }

  /**
   * Write a notice (or a log line) to stderr. On a terminal it takes the place of the progress lines, which are
   * drawn again below it; otherwise it is written as it is.
   */
  note(text: string): void {
    if (this.#tty && this.#lines) {
      // The progress stream is the terminal (stderr): one write, so nothing lands between erase and redraw.
      this.#options.stream.write(`\x1b[${this.#lines}F\x1b[J${text}${this.#last.join('\n')}\n`);
      return;
    }
    process.stderr.write(text);
  }

  /** Stop the periodic updates; log lines still go above the last progress lines until release(). */
  stop(): void {
    clearInterval(this.#timer);
  }

  /** Leave the terminal to others: log lines go straight to stderr again, below the progress lines. */
  release(): void {
    this.stop();
    if (this.#tty) setLogWriter(undefined);
    this.#lines = 0;
  }
}

/** "[#####-----]  3/6  text": a bar of `width` cells for `fraction` (0..1) of a job. */
export function formatBar(fraction: number, width = 20): string {
  const f = Math.min(1, Math.max(0, fraction));
  const filled = Math.round(f * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

/**
 * A progress bar for a job of known size (e.g. `sightline tune`'s candidates): redrawn in place on a terminal
 * (log lines go above it), one line per step otherwise.
 */
export class ProgressBar {
  readonly #stream: NodeJS.WriteStream;
  readonly #tty: boolean;
  #drawn = false;
  #lastStep = -1;
  #line = '';

  constructor(stream: NodeJS.WriteStream) {
    this.#stream = stream;
    this.#tty = Boolean(stream.isTTY);
    if (this.#tty) setLogWriter((text) => this.#note(text));
  }

  /** Step `step` (from 0) of `total`, `fraction` of it done, `text` saying what it is. */
  update(step: number, total: number, fraction: number, text: string): void {
    const line = `${formatBar((step + fraction) / total)} ${step + 1}/${total}  ${text}`;
    if (this.#tty) {
      this.#line = line;
      this.#stream.write(`\r\x1b[K${line}`);
      this.#drawn = true;
    } else if (step !== this.#lastStep) {
      this.#stream.write(`${line}\n`);
    }
    this.#lastStep = step;
  }

  #note(text: string): void {
    this.#stream.write(this.#drawn ? `\r\x1b[K${text}${this.#line}` : text);
  }

  /** Clear the bar and give the terminal back to log lines. */
  done(): void {
    if (this.#tty) {
      if (this.#drawn) this.#stream.write('\r\x1b[K');
      setLogWriter(undefined);
    }
    this.#drawn = false;
  }
}
