/** Buffered, backpressure-aware text output to one file for the file sinks (synchronous write, async flush). */
import { createWriteStream, openSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Writable } from 'node:stream';
import { ClosedError, childLogger, describeError, type Logger, SinkError } from '@sightline/shared';
import { makeDirs, makeDirsSync } from './make-dirs.ts';

/** Options of a LineWriter. */
export interface LineWriterOptions {
  /** Append to an existing file instead of truncating it. Default false. */
  append?: boolean;
  /** Text held in memory while the disk catches up; beyond it new text is dropped and counted. Default 64 MiB. */
  maxPendingBytes?: number;
}

/**
 * Writes text to a file stream without ever blocking the caller. While the stream is below its high-water mark
 * text goes straight to it (fs.WriteStream batches queued chunks with writev); once it reports backpressure,
 * text collects in memory until 'drain' and is then written as one chunk. Past `maxPendingBytes` of collected
 * text, further writes are dropped and counted in `dropped`. A write error is kept, logged once, and makes
 * `flush` / `close` reject.
 */
export class LineWriter {
  readonly path: string;
  readonly #stream: Writable;
  readonly #maxPending: number;
  readonly #log: Logger;
  #pending: string[] = [];
  #pendingBytes = 0;
  #waitingDrain = false;
  /** Writes accepted (sent to the stream or pending), and how many of them the stream has finished, in order. */
  #accepted = 0;
  #finished = 0;
  /** flush() calls waiting until `#finished` reaches their `upTo`. */
  #waiters: { upTo: number; resolve: () => void; reject: (err: Error) => void }[] = [];
  #error: SinkError | undefined;
  #dropped = 0;
  #closed = false;
  #closing: Promise<void> | undefined;

  private constructor(path: string, stream: Writable, options: LineWriterOptions) {
    this.path = path;
    this.#stream = stream;
    this.#maxPending = checkMaxPending(options.maxPendingBytes);
    this.#log = childLogger('sink', { path });
    stream.on('error', (err) => this.#fail(err));
  }

  /** Create missing parent directories and open `path`; a failure is a SinkError naming the path. */
  static async open(path: string, options: LineWriterOptions = {}): Promise<LineWriter> {
    checkMaxPending(options.maxPendingBytes);
    const dir = dirname(path);
    try {
      await makeDirs(dir);
    } catch (err) {
      throw new SinkError(`Cannot create directory ${dir} for output file ${path}: ${describeError(err)}`, {
        cause: err,
      });
    }
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(path, options.append ? 'a' : 'w');
    } catch (err) {
      throw new SinkError(`Cannot open output file ${path} for writing: ${describeError(err)}`, {
        cause: err,
      });
    }
    return new LineWriter(path, handle.createWriteStream({ encoding: 'utf8' }), options);
  }

  /** Like `open`, synchronously (for outputs created on the first result of a stream). */
  static openSync(path: string, options: LineWriterOptions = {}): LineWriter {
    checkMaxPending(options.maxPendingBytes);
    const dir = dirname(path);
    try {
      makeDirsSync(dir);
    } catch (err) {
      throw new SinkError(`Cannot create directory ${dir} for output file ${path}: ${describeError(err)}`, {
        cause: err,
      });
    }
    let fd: number;
    try {
      fd = openSync(path, options.append ? 'a' : 'w');
    } catch (err) {
      throw new SinkError(`Cannot open output file ${path} for writing: ${describeError(err)}`, {
        cause: err,
      });
    }
    return new LineWriter(path, createWriteStream(path, { fd, encoding: 'utf8' }), options);
  }

  /** Text dropped because the pending buffer was full or the file had failed, in writes. */
  get dropped(): number {
    return this.#dropped;
  }

  /** The write error, if the file failed. */
  get error(): SinkError | undefined {
    return this.#error;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Queue text (usually whole lines) for the file. Throws ClosedError after close(). */
  write(text: string): void {
    if (this.#closed) throw new ClosedError(`Output file ${this.path}`);
    if (this.#error) {
      this.#dropped++;
      return;
    }
    if (!this.#waitingDrain) {
      this.#accepted++;
      this.#send(text, 1);
      return;
    }
    if (this.#pendingBytes + text.length > this.#maxPending) {
      if (this.#dropped++ === 0) {
        this.#log.warn({ maxPendingBytes: this.#maxPending }, 'output cannot keep up; dropping results');
      }
      return;
    }
    this.#accepted++;
    this.#pending.push(text);
    this.#pendingBytes += text.length;
  }

  /**
   * Resolve once everything written before this call has reached the operating system (later writes do not
   * hold it back); reject if the file failed.
   */
  flush(): Promise<void> {
    if (this.#error) return Promise.reject(this.#error);
    const upTo = this.#accepted;
    if (this.#finished >= upTo) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ upTo, resolve, reject }));
  }

  /** Flush, then close the file. Safe to call twice; rejects with the write error if the file failed. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    let flushError: unknown;
    try {
      await this.flush();
    } catch (err) {
      flushError = err;
    }
    this.#closed = true;
    await new Promise<void>((resolve) => {
      if (this.#stream.destroyed) return resolve();
      this.#stream.once('close', () => resolve());
      this.#stream.end();
    });
    if (flushError ?? this.#error) throw flushError ?? this.#error;
  }

  /** Hand `text`, holding `writes` accepted writes, to the stream; its callbacks come in write order. */
  #send(text: string, writes: number): void {
    const ok = this.#stream.write(text, (err) => {
      if (err) return this.#fail(err);
      this.#finished += writes;
      this.#settle();
    });
    if (!ok && !this.#waitingDrain) {
      this.#waitingDrain = true;
      this.#stream.once('drain', () => {
        this.#waitingDrain = false;
        if (this.#pending.length === 0 || this.#error) return;
        const chunk = this.#pending.join('');
        const writes = this.#pending.length;
        this.#pending = [];
        this.#pendingBytes = 0;
        this.#send(chunk, writes);
      });
    }
  }

  #settle(): void {
    if (this.#waiters.length === 0 || this.#waiters[0]!.upTo > this.#finished) return;
    // Waiters are in call order, so their `upTo` never decreases.
    const done = this.#waiters.findIndex((w) => w.upTo > this.#finished);
    const ready = this.#waiters.splice(0, done < 0 ? this.#waiters.length : done);
    for (const w of ready) w.resolve();
  }

  #fail(err: Error): void {
    if (this.#error) return;
    this.#error = new SinkError(`Cannot write output file ${this.path}: ${describeError(err)}`, {
      cause: err,
    });
    this.#log.error({ err: this.#error.message }, 'output file failed');
    this.#dropped += this.#pending.length;
    this.#pending = [];
    this.#pendingBytes = 0;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(this.#error);
  }
}

function checkMaxPending(value: number | undefined): number {
  const v = value ?? 64 * 1024 * 1024;
  if (!Number.isInteger(v) || v < 0) {
    throw new RangeError(
      `Expected a non-negative integer for maxPendingBytes but received ${v} of type ${typeof v}`,
    );
  }
  return v;
}
