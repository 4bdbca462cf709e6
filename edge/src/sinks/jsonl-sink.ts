/** JSON Lines sink: one JSON object per FrameResult per line, in one file for all streams. */
import type { FrameResult } from '@sightline/shared';
import { isWireMask, maskToCocoRle } from './coco-rle.ts';
import { LineWriter, type LineWriterOptions } from './line-writer.ts';
import type { Sink } from './sink.ts';

/** Options of the JSONL sink. */
export interface JsonlSinkOptions extends LineWriterOptions {
  /** Leave Float32Array fields (track embeddings) out instead of writing them as number arrays. Default false. */
  omitEmbeddings?: boolean;
}

/**
 * Writes `JSON.stringify(result)` + "\n" per result. Float32Array values (embeddings) become arrays of numbers
 * rounded to 4 decimals, or are omitted with `omitEmbeddings`. Instance masks (`mask` of tracks and detections)
 * become COCO uncompressed RLE over the whole frame, `{size: [height, width], counts}` in column-major order
 * (coco-rle.ts), what pycocotools and supervision read; the wire keeps its compact box-local form.
 * Buffered and backpressure-aware (see LineWriter).
 */
export class JsonlSink implements Sink {
  readonly #out: LineWriter;
  readonly #replacer: (key: string, value: unknown) => unknown;
  /** The frame size of the result being written (the space masks are placed in). */
  #width = 0;
  #height = 0;
  /** This frame's masks already encoded: a track carries the same mask object as its detection. */
  #encoded = new Map<object, unknown>();

  private constructor(out: LineWriter, options: JsonlSinkOptions) {
    this.#out = out;
    const omit = options.omitEmbeddings ?? false;
    this.#replacer = (key, value) => {
      if (key === 'mask' && isWireMask(value)) {
        let rle = this.#encoded.get(value);
        if (rle === undefined) {
          rle = maskToCocoRle(value, this.#width, this.#height);
          this.#encoded.set(value, rle);
        }
        return rle;
      }
      if (!(value instanceof Float32Array)) return value;
      return omit ? undefined : Array.from(value, round4);
    };
  }

  /** Create missing directories and open (truncate) `path`; rejects with a SinkError naming the path. */
  static async open(path: string, options: JsonlSinkOptions = {}): Promise<JsonlSink> {
    return new JsonlSink(await LineWriter.open(path, options), options);
  }

  /** The output file. */
  get path(): string {
    return this.#out.path;
  }

  /** Results dropped because the disk could not keep up or the file failed. */
  get dropped(): number {
    return this.#out.dropped;
  }

  get closed(): boolean {
    return this.#out.closed;
  }

  write(result: FrameResult): void {
    this.#width = result.width;
    this.#height = result.height;
    this.#encoded.clear();
    this.#out.write(`${JSON.stringify(result, this.#replacer)}\n`);
  }

  flush(): Promise<void> {
    return this.#out.flush();
  }

  close(): Promise<void> {
    return this.#out.close();
  }
}

function round4(v: number): number {
  return Math.round(v * 1e4) / 1e4;
}
