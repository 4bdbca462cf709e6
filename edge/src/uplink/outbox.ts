/**
 * A bounded on-disk queue of encoded uplink batches that survives a process restart.
 *
 * One file per message, `<ordinal 12 digits>~<streamId>~<run>~<seq>.msgpack` (components percent-encoded, so `~`
 * never appears inside one), written to `<name>.tmp` then renamed: a file under its final name is always whole.
 * With `durable` each file is fsynced before its rename and the folder after it, so a message survives a power cut
 * once `append` returns (two fsyncs per message); without, a crash of the process loses nothing but a power cut may
 * lose the last few messages. Deletions (acks) are never fsynced: a power cut may bring an acked message back, and
 * the hub stores a replayed `(stream, run, seq)` once.
 * The folder belongs to the outbox: at open, leftover `.tmp` files and `.msgpack` files whose name does not parse
 * are removed (one warning with the count); other files are left alone.
 *
 * When a bound is hit the oldest messages are deleted and counted as dropped (`dropped` since open, and a total
 * persisted in `outbox-meta.json` so drops are never silent across restarts).
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { ClosedError, childLogger, describeError } from '@sightline/shared';

/** Identifies one batch: what the hub acks. */
export interface OutboxKey {
  streamId: string;
  run: string;
  seq: number;
}

/** One message waiting for its ack. */
export interface OutboxEntry {
  readonly key: OutboxKey;
  /** Position in append order (increases across restarts). */
  readonly ordinal: number;
  /** Size of the message in bytes. */
  readonly size: number;
  /** Reads the message from disk (throws when it was deleted meanwhile). */
  read(): Uint8Array;
}

export interface OutboxOptions {
  /** Folder of the outbox (created when missing). */
  dir: string;
  /** Most messages kept; the oldest are dropped beyond. Default 10000. */
  maxMessages?: number;
  /** Most bytes kept; the oldest are dropped beyond. Default 256 MiB. */
  maxBytes?: number;
  /** Shortest time between two "dropped" warnings (ms). Default 10000. */
  dropLogIntervalMs?: number;
  /** Clock in ms, for the warning rate limit. Default Date.now. */
  now?: () => number;
  /** fsync each message (file and folder) before `append` returns. Default false. */
  durable?: boolean;
}

interface Entry extends OutboxEntry {
  readonly file: string;
  removed: boolean;
}

const META = 'outbox-meta.json';
const NAME = /^(\d{12})~([^~]+)~([^~]+)~([1-9]\d{0,15})\.msgpack$/;

function keyString(streamId: string, run: string, seq: number): string {
  return `${streamId}\u0000${run}\u0000${seq}`;
}

/** Percent-encodes everything but letters, digits, `_ . -` (so `~` and path separators never appear). */
function encodePart(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

function positiveInt(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`Expected a positive integer for ${name} but received ${String(value)}`);
  }
  return value;
}

/** fsyncs a folder, so that files created or renamed in it survive a power cut. */
export function syncFolder(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export class Outbox {
  readonly dir: string;
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly durable: boolean;
  readonly #dropLogIntervalMs: number;
  readonly #now: () => number;
  readonly #log;
  /** Entries in append order; removed ones are skipped and compacted away from time to time. */
  #queue: Entry[] = [];
  #front = 0;
  #removedInQueue = 0;
  readonly #live = new Map<string, Entry>();
  #bytes = 0;
  #nextOrdinal = 1;
  #dropped = 0;
  #droppedTotal = 0;
  #droppedUnlogged = 0;
  #lastDropLogAt = Number.NEGATIVE_INFINITY;
  #closed = false;

  private constructor(options: OutboxOptions) {
    this.dir = options.dir;
    this.maxMessages = positiveInt('maxMessages', options.maxMessages ?? 10_000);
    this.maxBytes = positiveInt('maxBytes', options.maxBytes ?? 256 * 1024 * 1024);
    this.#dropLogIntervalMs = options.dropLogIntervalMs ?? 10_000;
    this.#now = options.now ?? Date.now;
    this.durable = options.durable ?? false;
    this.#log = childLogger('outbox', { dir: options.dir });
  }

  /** Opens (or creates) the outbox in `dir` and loads the messages left there, in append order. */
  static open(options: OutboxOptions): Outbox {
    const outbox = new Outbox(options);
    outbox.#load();
    return outbox;
  }

  /** Messages waiting. */
  get size(): number {
    return this.#live.size;
  }

  /** Bytes of the messages waiting. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Messages dropped (oldest first, because a bound was hit) since this outbox was opened. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Messages dropped over the life of this folder (persisted). */
  get droppedTotal(): number {
    return this.#droppedTotal;
  }

  /** Stores a message; drops the oldest ones first when a bound would be exceeded. Throws when the key is queued. */
  append(key: OutboxKey, bytes: Uint8Array): OutboxEntry {
    if (this.#closed) throw new ClosedError('outbox');
    const k = keyString(key.streamId, key.run, key.seq);
    if (this.#live.has(k)) {
      throw new TypeError(`outbox already holds batch ${key.streamId}/${key.run}/${key.seq}`);
    }
    positiveInt('seq', key.seq);
    let evicted = 0;
    while (
      this.#live.size > 0 &&
      (this.#live.size + 1 > this.maxMessages || this.#bytes + bytes.length > this.maxBytes)
    ) {
      const oldest = this.#oldest();
      if (!oldest) break;
      this.#remove(oldest);
      evicted++;
    }
    const ordinal = this.#nextOrdinal++;
    const file = `${String(ordinal).padStart(12, '0')}~${encodePart(key.streamId)}~${encodePart(key.run)}~${key.seq}.msgpack`;
    const path = join(this.dir, file);
    if (this.durable) {
      const fd = openSync(`${path}.tmp`, 'w');
      try {
        let done = 0;
        while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(`${path}.tmp`, path);
      syncFolder(this.dir);
    } else {
      writeFileSync(`${path}.tmp`, bytes);
      renameSync(`${path}.tmp`, path);
    }
    const entry = this.#entry({ ...key }, ordinal, bytes.length, file);
    this.#push(entry);
    if (evicted > 0) this.#countDrops(evicted);
    return entry;
  }

  /** The hub stored this batch: delete it. True when it was queued (an unknown key is a no-op). */
  ack(streamId: string, run: string, seq: number): boolean {
    const entry = this.#live.get(keyString(streamId, run, seq));
    if (!entry) return false;
    this.#remove(entry);
    return true;
  }

  /** True when this batch is queued. */
  has(streamId: string, run: string, seq: number): boolean {
    return this.#live.has(keyString(streamId, run, seq));
  }

  /** Every queued message, in append order. */
  pending(): OutboxEntry[] {
    return this.after(0, Number.POSITIVE_INFINITY);
  }

  /** Up to `limit` queued messages appended after `ordinal`, in append order. */
  after(ordinal: number, limit: number): OutboxEntry[] {
    const out: OutboxEntry[] = [];
    let lo = this.#front;
    let hi = this.#queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#queue[mid]!.ordinal <= ordinal) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.#queue.length && out.length < limit; i++) {
      const e = this.#queue[i]!;
      if (!e.removed) out.push(e);
    }
    return out;
  }

  /** Persists the drop total and logs drops not yet reported. Later appends throw; reads still work. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#droppedUnlogged > 0) this.#logDrops();
  }

  #entry(key: OutboxKey, ordinal: number, size: number, file: string): Entry {
    const path = join(this.dir, file);
    return {
      key,
      ordinal,
      size,
      file,
      removed: false,
      read: () => new Uint8Array(readFileSync(path)),
    };
  }

  #push(entry: Entry): void {
    this.#queue.push(entry);
    this.#live.set(keyString(entry.key.streamId, entry.key.run, entry.key.seq), entry);
    this.#bytes += entry.size;
  }

  #oldest(): Entry | undefined {
    while (this.#front < this.#queue.length && this.#queue[this.#front]!.removed) this.#front++;
    return this.#queue[this.#front];
  }

  #remove(entry: Entry): void {
    if (entry.removed) return;
    entry.removed = true;
    this.#live.delete(keyString(entry.key.streamId, entry.key.run, entry.key.seq));
    this.#bytes -= entry.size;
    this.#removedInQueue++;
    try {
      rmSync(join(this.dir, entry.file), { force: true });
    } catch (err) {
      this.#log.warn({ file: entry.file, err: describeError(err) }, 'cannot delete outbox message');
    }
    if (this.#removedInQueue > 1024 && this.#removedInQueue * 2 > this.#queue.length) {
      this.#queue = this.#queue.filter((e) => !e.removed);
      this.#front = 0;
      this.#removedInQueue = 0;
    }
  }

  #countDrops(n: number): void {
    this.#dropped += n;
    this.#droppedTotal += n;
    this.#droppedUnlogged += n;
    this.#saveMeta();
    if (this.#now() - this.#lastDropLogAt >= this.#dropLogIntervalMs) this.#logDrops();
  }

  #logDrops(): void {
    this.#lastDropLogAt = this.#now();
    this.#log.warn(
      {
        dropped: this.#droppedUnlogged,
        droppedSinceStart: this.#dropped,
        droppedTotal: this.#droppedTotal,
        maxMessages: this.maxMessages,
        maxBytes: this.maxBytes,
      },
      `outbox full: dropped the ${this.#droppedUnlogged} oldest batch(es) (hub unreachable or too slow)`,
    );
    this.#droppedUnlogged = 0;
  }

  #saveMeta(): void {
    const path = join(this.dir, META);
    try {
      writeFileSync(`${path}.tmp`, `${JSON.stringify({ droppedTotal: this.#droppedTotal })}\n`);
      renameSync(`${path}.tmp`, path);
    } catch (err) {
      this.#log.warn({ err: describeError(err) }, 'cannot save outbox drop count');
    }
  }

  #load(): void {
    mkdirSync(this.dir, { recursive: true });
    try {
      const meta = JSON.parse(readFileSync(join(this.dir, META), 'utf8')) as { droppedTotal?: unknown };
      if (Number.isSafeInteger(meta.droppedTotal) && (meta.droppedTotal as number) >= 0) {
        this.#droppedTotal = meta.droppedTotal as number;
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.#log.warn({ err: describeError(err) }, `ignoring unreadable ${META} (drop total restarts at 0)`);
      }
    }
    const found: Entry[] = [];
    const garbage: string[] = [];
    for (const d of readdirSync(this.dir, { withFileTypes: true })) {
      if (!d.isFile()) continue;
      if (d.name.endsWith('.tmp')) {
        garbage.push(d.name);
        continue;
      }
      if (!d.name.endsWith('.msgpack')) continue;
      const m = NAME.exec(d.name);
      let key: OutboxKey | undefined;
      try {
        if (m)
          key = { streamId: decodeURIComponent(m[2]!), run: decodeURIComponent(m[3]!), seq: Number(m[4]) };
      } catch {
        key = undefined;
      }
      const size = key ? statSync(join(this.dir, d.name)).size : 0;
      if (!key || size === 0) {
        garbage.push(d.name);
        continue;
      }
      found.push(this.#entry(key, Number(m![1]), size, d.name));
    }
    found.sort((a, b) => a.ordinal - b.ordinal);
    for (const e of found) {
      if (this.#live.has(keyString(e.key.streamId, e.key.run, e.key.seq))) {
        garbage.push(e.file);
        continue;
      }
      this.#push(e);
      this.#nextOrdinal = e.ordinal + 1;
    }
    for (const name of garbage) rmSync(join(this.dir, name), { force: true });
    if (garbage.length > 0) {
      this.#log.warn(
        { removed: garbage.length, examples: garbage.slice(0, 5) },
        `removed ${garbage.length} leftover or unreadable file(s) from the outbox`,
      );
    }
    let evicted = 0;
    while (this.#live.size > this.maxMessages || (this.#live.size > 1 && this.#bytes > this.maxBytes)) {
      this.#remove(this.#oldest()!);
      evicted++;
    }
    if (evicted > 0) this.#countDrops(evicted);
    if (this.#live.size > 0) {
      this.#log.info({ messages: this.#live.size, bytes: this.#bytes }, 'outbox holds unacked batches');
    }
  }
}
