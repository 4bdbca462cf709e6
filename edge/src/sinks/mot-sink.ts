/** MOTChallenge sink: one `<streamId>.txt` per stream with `frame,id,x,y,w,h,conf,-1,-1,-1` per track. */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { ClosedError, describeError, type FrameResult, ID_PATTERN, SinkError } from '@sightline/shared';
import { formatMotLine } from '../tracking/mot-format.ts';
import { LineWriter, type LineWriterOptions } from './line-writer.ts';
import { makeDirs } from './make-dirs.ts';
import type { Sink } from './sink.ts';

/**
 * Writes the tracks of each FrameResult as MOTChallenge result lines: frame = seq + 1, the track id,
 * the box as top-left + size and the score with 2 decimals. A stream's file is created (truncated) on its
 * first result, so a stream with results but no tracks still gets an empty file.
 */
export class MotSink implements Sink {
  readonly dir: string;
  readonly #options: LineWriterOptions;
  readonly #files = new Map<string, LineWriter>();
  #closed = false;
  #closing: Promise<void> | undefined;

  private constructor(dir: string, options: LineWriterOptions) {
    this.dir = dir;
    this.#options = { ...options, append: false };
  }

  /** Create `dir` if missing and check it is a writable directory; rejects with a SinkError naming it. */
  static async open(dir: string, options: LineWriterOptions = {}): Promise<MotSink> {
    try {
      await makeDirs(dir);
      await access(dir, constants.W_OK);
    } catch (err) {
      throw new SinkError(`Cannot use ${dir} as the MOT output directory: ${describeError(err)}`, {
        cause: err,
      });
    }
    return new MotSink(dir, options);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The file a stream's results go to. */
  pathFor(streamId: string): string {
    if (!ID_PATTERN.test(streamId)) {
      throw new RangeError(
        `Expected a stream id of letters, digits, _ . - (max 64) but received "${streamId}"`,
      );
    }
    return join(this.dir, `${streamId}.txt`);
  }

  /** Results dropped because the disk could not keep up or a file failed, over all streams. */
  get dropped(): number {
    let n = 0;
    for (const f of this.#files.values()) n += f.dropped;
    return n;
  }

  write(result: FrameResult): void {
    if (this.#closed) throw new ClosedError(`MOT sink ${this.dir}`);
    let out = this.#files.get(result.streamId);
    if (!out) {
      out = LineWriter.openSync(this.pathFor(result.streamId), this.#options);
      this.#files.set(result.streamId, out);
    }
    const frame = result.seq + 1;
    let text = '';
    for (const t of result.tracks) text += `${formatMotLine(frame, t.trackId, t.box, t.score)}\n`;
    if (text) out.write(text);
  }

  async flush(): Promise<void> {
    await Promise.all([...this.#files.values()].map((f) => f.flush()));
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      const results = await Promise.allSettled([...this.#files.values()].map((f) => f.close()));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    })();
    return this.#closing;
  }
}
