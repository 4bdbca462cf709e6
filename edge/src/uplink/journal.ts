/**
 * The uplink's write-ahead journal: what the batcher adds to a stream's open window (points, track summaries,
 * thumbnails, embeddings, events) is written here as it is produced, so a crash of the process (kill -9, OOM kill)
 * loses at most the results of the event-loop turn in progress instead of the whole open window (up to `flushMs`).
 *
 * One file per process run, `<run>.wal`: records `[u32 length][u32 crc32][msgpack payload]` (little-endian), the
 * first one naming the run. Records produced in one event-loop turn are written together, with one write(), in a
 * setImmediate (group commit); a cut of one window writes what is pending at once, followed by a "cut" record.
 * After the batcher has cut every window (each `flush`) everything in the file is in the outbox, so the file is
 * truncated back to its header.
 *
 * At open, the files of earlier runs are read back: every window never cut becomes the `Batch` it would have been,
 * with the same stream, run and seq (so the hub, which stores a `(stream, run, seq)` once, never doubles one that
 * did reach it), for the caller to queue in the outbox before `discardRecovered()` deletes those files. A torn last
 * record (a length past the end, a bad checksum, a payload that does not decode) ends its file: it and anything
 * after it is dropped, with one warning.
 *
 * Fsync policy (`hub.fsync`): 'none' (the default) never fsyncs; 'batch' fsyncs each outbox message before the
 * journal lets go of its records; 'always' also fdatasyncs the journal at every group commit. Writes reach the OS
 * page cache in every policy, which survives a crash of the process; the policy only matters for a power cut or a
 * kernel crash. The fsyncs run on the event loop (docs/hub.md; their cost in docs/benchmarks.md).
 */
import {
  closeSync,
  fdatasyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { Decoder, Encoder } from '@msgpack/msgpack';
import {
  type Batch,
  type ClassLabel,
  ClosedError,
  childLogger,
  describeError,
  type EmbeddingMsg,
  type EventMsg,
  type Point,
  type Thumbnail,
} from '@sightline/shared';
import { syncFolder } from './outbox.ts';

/** When the uplink fsyncs: never, each batch cut into the outbox, or every journal group commit too. */
export type FsyncPolicy = 'none' | 'batch' | 'always';

/** A track's summary as the batcher knows it (classId -1: seen on a thumbnail only, not in a batch yet). */
export interface JournalTrack {
  trackId: number;
  label: string;
  classId: number;
  firstSeen: number;
  lastSeen: number;
  thumbnail?: string;
  thumbnailScore?: number;
  /** The labels of its last classified crop (stage "classify"). */
  classes?: ClassLabel[];
}

/** What one call of the batcher added to the open window of a stream. */
export interface WindowDelta {
  points?: Point[];
  /** Tracks that joined the window's summaries (in order; the batch lists them in first-joined order). */
  joined?: number[];
  /** The summary, after this call, of every track it changed. */
  tracks?: JournalTrack[];
  thumbnails?: Thumbnail[];
  embeddings?: EmbeddingMsg[];
  events?: EventMsg[];
}

/** Where the batcher writes its open windows ahead of the batch (see `Journal`). */
export interface WindowJournal {
  /** Records what was added to window `seq` of a stream. */
  record(streamId: string, seq: number, delta: WindowDelta): void;
  /** Window `seq` of a stream is in the outbox now. */
  cut(streamId: string, seq: number): void;
  /** Every window was cut into the outbox: nothing recorded so far is needed any more. */
  reset(): void;
}

export interface JournalOptions {
  /** Folder of the journal files (created when missing). */
  dir: string;
  /** Run id of this process: its file is `<run>.wal`. */
  run: string;
  /** When to fsync (see the module doc). Default 'none'. */
  fsync?: FsyncPolicy;
}

/** Counters of the journal. */
export interface JournalStats {
  /** write() calls (group commits). */
  commits: number;
  /** Records written. */
  records: number;
  /** Bytes written (records and headers). */
  bytes: number;
  /** fdatasync calls. */
  syncs: number;
  /** Commits that failed (their records are lost to a crash, not to the live batch). */
  errors: number;
}

type Rec =
  | { k: 'h'; v: 1; run: string }
  | ({ k: 'd'; s: string; q: number } & WindowDelta)
  | { k: 'c'; s: string; q: number };

const HEAD = 8;
const MAX_RECORD = 64 * 1024 * 1024;
const encoder = new Encoder({ ignoreUndefined: true });
const decoder = new Decoder();

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE, as zlib) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One record as it is stored: length, checksum, payload. */
export function frameRecord(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEAD + payload.length);
  out.writeUInt32LE(payload.length, 0);
  out.writeUInt32LE(crc32(payload), 4);
  out.set(payload, HEAD);
  return out;
}

/** The whole records of a journal file, and how many bytes at its end were torn or corrupt. */
export function readRecords(bytes: Uint8Array): { records: unknown[]; tornBytes: number } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const records: unknown[] = [];
  let at = 0;
  while (at + HEAD <= buf.length) {
    const len = buf.readUInt32LE(at);
    if (len === 0 || len > MAX_RECORD || at + HEAD + len > buf.length) break;
    const payload = buf.subarray(at + HEAD, at + HEAD + len);
    if (crc32(payload) !== buf.readUInt32LE(at + 4)) break;
    try {
      // A plain Uint8Array view, so binary fields decode as Uint8Array (not Buffer), as the batcher made them.
      records.push(decoder.decode(new Uint8Array(payload.buffer, payload.byteOffset, payload.length)));
    } catch {
      break;
    }
    at += HEAD + len;
  }
  return { records, tornBytes: buf.length - at };
}

function isRec(r: unknown): r is Rec {
  if (typeof r !== 'object' || r === null) return false;
  const o = r as Record<string, unknown>;
  if (o.k === 'h') return typeof o.run === 'string';
  return (o.k === 'd' || o.k === 'c') && typeof o.s === 'string' && Number.isSafeInteger(o.q);
}

/**
 * The batch each window would have become, from its deltas in order: the same points, thumbnails, embeddings and
 * events in the same order, and the summaries of the tracks that joined it as they were after its last delta.
 */
export function windowBatch(streamId: string, run: string, seq: number, deltas: WindowDelta[]): Batch {
  const batch: Batch = {
    t: 'batch',
    streamId,
    run,
    seq,
    points: [],
    tracks: [],
    thumbnails: [],
    embeddings: [],
    events: [],
  };
  const joined = new Set<number>();
  const latest = new Map<number, JournalTrack>();
  for (const d of deltas) {
    if (d.points) batch.points.push(...d.points);
    if (d.thumbnails) batch.thumbnails.push(...d.thumbnails);
    if (d.embeddings) batch.embeddings.push(...d.embeddings);
    if (d.events) batch.events.push(...d.events);
    for (const id of d.joined ?? []) joined.add(id);
    for (const t of d.tracks ?? []) latest.set(t.trackId, t);
  }
  for (const trackId of joined) {
    const k = latest.get(trackId);
    if (!k || k.classId < 0) continue;
    batch.tracks.push({
      trackId,
      label: k.label,
      classId: k.classId,
      firstSeen: k.firstSeen,
      lastSeen: k.lastSeen,
      ...(k.thumbnail !== undefined ? { thumbnail: k.thumbnail, thumbnailScore: k.thumbnailScore } : {}),
    });
  }
  return batch;
}

/** The windows a journal file holds that were never cut, as batches, in the order they were opened. */
export function recoverWindows(records: unknown[]): { run?: string; batches: Batch[] } {
  let run: string | undefined;
  const windows = new Map<string, { streamId: string; seq: number; deltas: WindowDelta[] }>();
  for (const r of records) {
    if (!isRec(r)) continue;
    if (r.k === 'h') {
      run = r.run;
      continue;
    }
    const key = `${r.s}\u0000${r.q}`;
    if (r.k === 'c') {
      windows.delete(key);
      continue;
    }
    let w = windows.get(key);
    if (!w) {
      w = { streamId: r.s, seq: r.q, deltas: [] };
      windows.set(key, w);
    }
    w.deltas.push(r);
  }
  if (run === undefined) return { batches: [] };
  const r = run;
  return { run, batches: [...windows.values()].map((w) => windowBatch(w.streamId, r, w.seq, w.deltas)) };
}

function openWindowKey(streamId: string, seq: number): string {
  return `${streamId}\u0000${seq}`;
}

export class Journal implements WindowJournal {
  readonly dir: string;
  readonly run: string;
  readonly fsync: FsyncPolicy;
  readonly file: string;
  readonly #log;
  #fd: number;
  #pending: Buffer[] = [];
  #scheduled = false;
  /** Windows with records in the file and no cut yet. */
  readonly #open = new Set<string>();
  #recovered: Batch[] = [];
  #recoveredFiles: string[] = [];
  #lastErrorLogAt = Number.NEGATIVE_INFINITY;
  #closed = false;
  readonly #stats: JournalStats = { commits: 0, records: 0, bytes: 0, syncs: 0, errors: 0 };

  private constructor(options: JournalOptions) {
    this.dir = options.dir;
    this.run = options.run;
    this.fsync = options.fsync ?? 'none';
    if (!['none', 'batch', 'always'].includes(this.fsync)) {
      throw new RangeError(
        `Expected 'none', 'batch' or 'always' for fsync but received ${JSON.stringify(options.fsync)}`,
      );
    }
    if (!/^[A-Za-z0-9_.-]{1,128}$/.test(options.run)) {
      throw new RangeError(`Expected a run id of letters, digits, '_', '.', '-' but received ${options.run}`);
    }
    this.file = join(this.dir, `${options.run}.wal`);
    this.#log = childLogger('uplink-journal', { dir: options.dir });
    mkdirSync(this.dir, { recursive: true });
    this.#recover();
    this.#fd = openSync(this.file, 'a');
    try {
      this.#writeHeader();
      if (this.fsync !== 'none') syncFolder(this.dir);
    } catch (err) {
      closeSync(this.#fd);
      throw err;
    }
  }

  /** Opens this run's journal in `dir` and reads back what earlier runs left there (see `recovered`). */
  static open(options: JournalOptions): Journal {
    return new Journal(options);
  }

  /** Windows earlier runs left un-cut, as batches: queue those the outbox lacks, then `discardRecovered()`. */
  get recovered(): readonly Batch[] {
    return this.#recovered;
  }

  get closed(): boolean {
    return this.#closed;
  }

  stats(): JournalStats {
    return { ...this.#stats };
  }

  /** Deletes the files of earlier runs (call once their batches are in the outbox). */
  discardRecovered(): void {
    for (const f of this.#recoveredFiles) rmSync(join(this.dir, f), { force: true });
    this.#recoveredFiles = [];
    this.#recovered = [];
  }

  record(streamId: string, seq: number, delta: WindowDelta): void {
    if (this.#closed) throw new ClosedError('uplink journal');
    this.#open.add(openWindowKey(streamId, seq));
    this.#pending.push(frameRecord(encoder.encode({ k: 'd', s: streamId, q: seq, ...delta })));
    this.#stats.records++;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.commit();
      });
    }
  }

  cut(streamId: string, seq: number): void {
    if (this.#closed) return;
    if (!this.#open.delete(openWindowKey(streamId, seq))) return;
    this.#pending.push(frameRecord(encoder.encode({ k: 'c', s: streamId, q: seq })));
    this.#stats.records++;
    this.commit();
  }

  reset(): void {
    if (this.#closed || (this.#open.size === 0 && this.#pending.length === 0)) return;
    this.#pending = [];
    this.#open.clear();
    try {
      ftruncateSync(this.#fd, 0);
      this.#writeHeader();
    } catch (err) {
      this.#failed(err);
    }
  }

  /** Writes the records pending (one write), and fdatasyncs with fsync 'always'. Runs by itself each turn. */
  commit(): void {
    if (this.#closed || this.#pending.length === 0) return;
    const buf = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending);
    this.#pending = [];
    try {
      writeAll(this.#fd, buf);
      this.#stats.commits++;
      this.#stats.bytes += buf.length;
      if (this.fsync === 'always') {
        fdatasyncSync(this.#fd);
        this.#stats.syncs++;
      }
    } catch (err) {
      this.#failed(err);
    }
  }

  /**
   * Writes what is pending and closes the file; deletes it when every window in it was cut (after the batcher's
   * last flush), else keeps it for the next start to recover. Safe to call twice.
   */
  close(): void {
    if (this.#closed) return;
    this.commit();
    this.#closed = true;
    closeSync(this.#fd);
    if (this.#open.size === 0) rmSync(this.file, { force: true });
  }

  #writeHeader(): void {
    const buf = frameRecord(encoder.encode({ k: 'h', v: 1, run: this.run }));
    writeAll(this.#fd, buf);
    this.#stats.bytes += buf.length;
  }

  #failed(err: unknown): void {
    this.#stats.errors++;
    const now = Date.now();
    if (now - this.#lastErrorLogAt < 10_000) return;
    this.#lastErrorLogAt = now;
    this.#log.error(
      { file: this.file, errors: this.#stats.errors, err: describeError(err) },
      'cannot write the uplink journal: a crash now would lose the open batch windows',
    );
  }

  #recover(): void {
    const own = `${this.run}.wal`;
    let files: string[];
    try {
      files = readdirSync(this.dir).filter((f) => f.endsWith('.wal') && f !== own);
    } catch (err) {
      this.#log.warn({ err: describeError(err) }, 'cannot list the uplink journal');
      return;
    }
    for (const f of files.sort()) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(join(this.dir, f));
      } catch (err) {
        this.#log.warn({ file: f, err: describeError(err) }, 'cannot read an uplink journal file: skipped');
        continue;
      }
      const { records, tornBytes } = readRecords(bytes);
      const { run, batches } = recoverWindows(records);
      if (tornBytes > 0) {
        this.#log.warn(
          { file: f, tornBytes, records: records.length },
          'uplink journal ends with a torn or corrupt record (a crash mid-write): dropped it',
        );
      }
      if (run === undefined && bytes.length > 0 && tornBytes < bytes.length) {
        this.#log.warn({ file: f }, 'uplink journal file without a header: ignored');
      }
      this.#recovered.push(...batches);
      this.#recoveredFiles.push(f);
    }
    if (this.#recovered.length > 0) {
      this.#log.info(
        {
          batches: this.#recovered.length,
          points: this.#recovered.reduce((n, b) => n + b.points.length, 0),
          files: this.#recoveredFiles.length,
        },
        'recovered batch windows an earlier run left in the uplink journal',
      );
    }
  }
}

function writeAll(fd: number, buf: Buffer): void {
  let done = 0;
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done);
}
