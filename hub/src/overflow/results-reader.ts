/**
 * Reads one hub's results stream on a connection of its own (XREAD BLOCK), decodes each answer and hands it on.
 * It starts after the last entry already there (answers left by an earlier process of the same hub id are not
 * replayed), keeps its place across Redis restarts, waits with a backoff while Redis is away (never spins), and
 * trims what it read. A malformed entry is counted and logged, and reading goes on.
 */
import { decode } from '@msgpack/msgpack';
import {
  childLogger,
  describeError,
  type Inferred,
  InferredSchema,
  OVERFLOW_ENTRY_FIELDS,
} from '@sightline/shared';
import type { Redis } from 'ioredis';

export interface ResultsReaderOptions {
  /** A dedicated connection (blocked most of the time), without a command timeout shorter than `blockMs`. */
  redis: Redis;
  /** The results stream key. */
  key: string;
  /** An answer for `edgeId`. */
  onAnswer: (edgeId: string, answer: Inferred) => void;
  /** An entry that is not an answer (counted by the caller). */
  onMalformed: (reason: string) => void;
  /** Longest XREAD BLOCK (ms). Default 1000. */
  blockMs?: number;
  /** Most entries per read. Default 100. */
  count?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());

export class ResultsReader {
  readonly #opts: ResultsReaderOptions;
  readonly #log = childLogger('overflow');
  readonly #loop: Promise<void>;
  #closed = false;
  /** Id of the last entry read; undefined until the start point is known. */
  #lastId: string | undefined;

  constructor(options: ResultsReaderOptions) {
    this.#opts = options;
    this.#loop = this.#run();
  }

  /** Stops reading (the connection is the caller's to close, which ends a blocked read at once). */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { redis, key } = this.#opts;
    let backoff = 100;
    while (!this.#closed) {
      try {
        if (redis.status !== 'ready') throw new Error(`redis ${redis.status}`);
        if (this.#lastId === undefined) {
          const last = await redis.xrevrange(key, '+', '-', 'COUNT', 1);
          this.#lastId = last[0]?.[0] ?? '0-0';
        }
        const reply = await redis.xreadBuffer(
          'COUNT',
          this.#opts.count ?? 100,
          'BLOCK',
          this.#opts.blockMs ?? 1000,
          'STREAMS',
          key,
          this.#lastId,
        );
        backoff = 100;
        const entries = reply?.[0]?.[1] ?? [];
        for (const [id, fields] of entries) {
          this.#lastId = id.toString();
          this.#entry(fields);
        }
        // What was read is done with: keep the stream short (the last entry stays, harmless).
        if (entries.length) await redis.xtrim(key, 'MINID', this.#lastId).catch(() => {});
      } catch (err) {
        if (this.#closed) break;
        this.#log.debug({ err: describeError(err) }, 'results read failed: retrying');
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 2000);
      }
    }
  }

  #entry(fields: Buffer[]): void {
    let edge: string | undefined;
    let answer: Buffer | undefined;
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name = fields[i]!.toString();
      if (name === OVERFLOW_ENTRY_FIELDS.edge) edge = fields[i + 1]!.toString();
      else if (name === OVERFLOW_ENTRY_FIELDS.answer) answer = fields[i + 1];
    }
    const malformed = (reason: string) => {
      this.#log.warn({ edge, reason }, 'malformed overflow answer dropped');
      this.#opts.onMalformed(reason);
    };
    if (!edge || !answer) {
      malformed('entry lacks edge or answer');
      return;
    }
    let raw: unknown;
    try {
      raw = decode(answer);
    } catch (err) {
      malformed(`answer is not msgpack: ${describeError(err)}`);
      return;
    }
    const parsed = InferredSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      malformed(`${issue.path.join('.') || '(answer)'}: ${issue.message}`);
      return;
    }
    this.#opts.onAnswer(edge, parsed.data);
  }
}
