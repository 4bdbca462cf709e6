/** Live per-stream progress: redrawn lines on a terminal, periodic plain lines otherwise, JSON lines with --json. */
import type { StreamStats } from '@sightline/shared';

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
  #lines = 0;
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
  }

  /** Write a notice to stderr between updates; the next update prints below it instead of redrawing over it. */
  note(text: string): void {
    process.stderr.write(text);
    this.#lines = 0;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
