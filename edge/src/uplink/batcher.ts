/**
 * Turns the edge runtime's per-frame results, thumbnails and events into uplink `Batch` messages, one stream at a
 * time: a batch is cut every `flushMs`, or at once when a stream's window is full; empty windows send nothing.
 * With a `journal`, what each call adds to a window is written ahead to it, so a crash loses no open window.
 */
import {
  BATCH_LIMITS,
  type Batch,
  type ClassLabel,
  childLogger,
  describeError,
  type EmbeddingMsg,
  type EventMsg,
  type FrameResult,
  type Point,
  type Thumbnail,
  type TrackSummary,
} from '@sightline/shared';
import type { JournalTrack, WindowDelta, WindowJournal } from './journal.ts';

export interface UplinkBatcherOptions {
  /** Run id of this process (picked once per start, see `newRunId`). */
  run: string;
  /** Receives each cut batch (e.g. `UplinkClient.send`); errors it throws are logged. */
  onBatch: (batch: Batch) => void;
  /** Cut a batch of every stream this often (ms). Default 500. */
  flushMs?: number;
  /** Cut a stream's batch at once when it holds this many points. Default 5000. */
  maxPoints?: number;
  /** Cut a stream's batch at once when its thumbnails and embeddings reach this many bytes. Default 4 MiB. */
  maxBytes?: number;
  /** Send a track's embedding at most this often (ms); the first one at once. Default 10000. */
  embeddingEveryMs?: number;
  /** Name of the embedding model, sent with each embedding. Default 'osnet_x0_25_msmt17'. */
  embeddingModel?: string;
  /** Forget a track not seen for this long (ms, on the frames' clock). Default 60000. */
  forgetAfterMs?: number;
  /** Write-ahead journal of the open windows (see journal.ts). Default: none (a crash loses the open windows). */
  journal?: WindowJournal;
}

/** A thumbnail of a track, as the runtime produces it. */
export interface ThumbnailInput {
  streamId: string;
  trackId: number;
  /** sha256 (hex) of `jpeg`. */
  sha256: string;
  jpeg: Uint8Array;
  /** Quality (higher is better). */
  score: number;
  ts: number;
}

interface Known {
  label: string;
  classId: number;
  firstSeen: number;
  lastSeen: number;
  thumbnail?: string;
  thumbnailScore?: number;
  lastEmbeddingTs?: number;
  classes?: ClassLabel[];
}

interface Window {
  points: Point[];
  /** Tracks to summarise in this batch. */
  tracks: Set<number>;
  thumbnails: Thumbnail[];
  embeddings: EmbeddingMsg[];
  events: EventMsg[];
  bytes: number;
}

interface StreamState {
  seq: number;
  known: Map<number, Known>;
  /** Latest frame time seen (ms), the clock for forgetting tracks. */
  latest: number;
  window: Window;
}

function emptyWindow(): Window {
  return { points: [], tracks: new Set(), thumbnails: [], embeddings: [], events: [], bytes: 0 };
}

function summary(trackId: number, k: Known): JournalTrack {
  return {
    trackId,
    label: k.label,
    classId: k.classId,
    firstSeen: k.firstSeen,
    lastSeen: k.lastSeen,
    ...(k.thumbnail !== undefined ? { thumbnail: k.thumbnail, thumbnailScore: k.thumbnailScore } : {}),
    ...(k.classes ? { classes: k.classes } : {}),
  };
}

/** A run id: base36 time plus randomness, e.g. `mfx3k2a1-7f3k9q`. */
export function newRunId(now = Date.now()): string {
  return `${now.toString(36)}-${Math.random().toString(36).slice(2, 8).padEnd(6, '0')}`;
}

export class UplinkBatcher {
  readonly run: string;
  readonly flushMs: number;
  readonly maxPoints: number;
  readonly maxBytes: number;
  readonly embeddingEveryMs: number;
  readonly embeddingModel: string;
  readonly forgetAfterMs: number;
  readonly #onBatch: (batch: Batch) => void;
  readonly #journal?: WindowJournal;
  readonly #streams = new Map<string, StreamState>();
  readonly #log = childLogger('uplink-batcher');
  #timer?: NodeJS.Timeout;

  constructor(options: UplinkBatcherOptions) {
    this.run = options.run;
    this.#onBatch = options.onBatch;
    this.#journal = options.journal;
    this.flushMs = options.flushMs ?? 500;
    this.maxPoints = options.maxPoints ?? 5000;
    this.maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
    this.embeddingEveryMs = options.embeddingEveryMs ?? 10_000;
    this.embeddingModel = options.embeddingModel ?? 'osnet_x0_25_msmt17';
    this.forgetAfterMs = options.forgetAfterMs ?? 60_000;
    this.#timer = setInterval(() => this.flush(), this.flushMs);
    this.#timer.unref();
  }

  /** Adds one frame's tracks: a point per confirmed track matched on this frame. */
  addResult(result: FrameResult): void {
    const s = this.#stream(result.streamId);
    const ts = Math.max(0, Math.round(result.capturedAt));
    if (ts > s.latest) s.latest = ts;
    const journal = this.#journal;
    const points0 = s.window.points.length;
    const embeddings0 = s.window.embeddings.length;
    const delta: Required<Pick<WindowDelta, 'joined' | 'tracks'>> = { joined: [], tracks: [] };
    for (const t of result.tracks) {
      if (t.timeSinceUpdate !== 0) continue;
      let k = s.known.get(t.trackId);
      if (!k) {
        k = { label: t.label, classId: t.classId, firstSeen: ts, lastSeen: ts };
        s.known.set(t.trackId, k);
      }
      k.lastSeen = Math.max(k.lastSeen, ts);
      k.label = t.label;
      k.classId = t.classId;
      if (t.classes) k.classes = t.classes;
      if (journal) delta.tracks.push(summary(t.trackId, k));
      if (t.status !== 'confirmed') continue;
      const [x1, y1, x2, y2] = t.box;
      s.window.points.push([t.trackId, ts, x1, y1, x2, y2, t.score]);
      if (journal && !s.window.tracks.has(t.trackId)) delta.joined.push(t.trackId);
      s.window.tracks.add(t.trackId);
      if (
        t.embedding &&
        (k.lastEmbeddingTs === undefined || ts - k.lastEmbeddingTs >= this.embeddingEveryMs)
      ) {
        k.lastEmbeddingTs = ts;
        // A copy: the tracker updates its gallery mean in place.
        const vector = new Uint8Array(t.embedding.slice().buffer);
        s.window.embeddings.push({ trackId: t.trackId, ts, model: this.embeddingModel, vector });
        s.window.bytes += vector.length;
      }
    }
    if (journal && delta.tracks.length > 0) {
      const points = s.window.points.slice(points0);
      const embeddings = s.window.embeddings.slice(embeddings0);
      journal.record(result.streamId, s.seq + 1, {
        ...(points.length ? { points } : {}),
        ...(delta.joined.length ? { joined: delta.joined } : {}),
        tracks: delta.tracks,
        ...(embeddings.length ? { embeddings } : {}),
      });
    }
    this.#cutIfFull(result.streamId, s);
  }

  /** Adds a thumbnail; it becomes the track's best when its score beats the best so far. */
  addThumbnail(thumb: ThumbnailInput): void {
    const s = this.#stream(thumb.streamId);
    const thumbnail = { sha256: thumb.sha256, jpeg: thumb.jpeg };
    s.window.thumbnails.push(thumbnail);
    s.window.bytes += thumb.jpeg.length;
    let k = s.known.get(thumb.trackId);
    let joined = false;
    let changed = true;
    if (k && (k.thumbnailScore === undefined || thumb.score > k.thumbnailScore)) {
      k.thumbnail = thumb.sha256;
      k.thumbnailScore = thumb.score;
      joined = !s.window.tracks.has(thumb.trackId);
      s.window.tracks.add(thumb.trackId);
    } else if (!k) {
      const ts = Math.max(0, Math.round(thumb.ts));
      k = {
        label: '',
        classId: -1,
        firstSeen: ts,
        lastSeen: ts,
        thumbnail: thumb.sha256,
        thumbnailScore: thumb.score,
      };
      s.known.set(thumb.trackId, k);
    } else {
      changed = false;
    }
    this.#journal?.record(thumb.streamId, s.seq + 1, {
      thumbnails: [thumbnail],
      ...(joined ? { joined: [thumb.trackId] } : {}),
      ...(changed ? { tracks: [summary(thumb.trackId, k)] } : {}),
    });
    this.#cutIfFull(thumb.streamId, s);
  }

  /** Adds an event of a stream (state change, line crossing, ...). */
  addEvent(streamId: string, event: { kind: string; ts: number; data?: Record<string, unknown> }): void {
    const s = this.#stream(streamId);
    const msg: EventMsg = {
      kind: event.kind,
      ts: Math.max(0, Math.round(event.ts)),
      ...(event.data ? { data: event.data } : {}),
    };
    s.window.events.push(msg);
    this.#journal?.record(streamId, s.seq + 1, { events: [msg] });
    this.#cutIfFull(streamId, s);
  }

  /** Forgets what this batcher remembers of a stream's tracks (its tracker restarted: ids start again). */
  resetStream(streamId: string): void {
    const s = this.#streams.get(streamId);
    if (!s) return;
    this.#cut(streamId, s);
    s.known.clear();
  }

  /** Cuts a batch of every stream with something to send, now (and lets the journal go of its records). */
  flush(): void {
    for (const [streamId, s] of this.#streams) this.#cut(streamId, s, false);
    this.#journal?.reset();
  }

  /** Stops the flush timer (call `flush()` first to send what is pending). */
  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #stream(streamId: string): StreamState {
    let s = this.#streams.get(streamId);
    if (!s) {
      s = { seq: 0, known: new Map(), latest: 0, window: emptyWindow() };
      this.#streams.set(streamId, s);
    }
    return s;
  }

  #cutIfFull(streamId: string, s: StreamState): void {
    const w = s.window;
    if (
      w.points.length >= this.maxPoints ||
      w.bytes >= this.maxBytes ||
      w.thumbnails.length >= BATCH_LIMITS.thumbnails ||
      w.embeddings.length >= BATCH_LIMITS.embeddings ||
      w.events.length >= BATCH_LIMITS.events ||
      w.tracks.size >= BATCH_LIMITS.tracks
    ) {
      this.#cut(streamId, s);
    }
  }

  /** Cuts the stream's window into a batch; `mark`: tell the journal (not needed when a reset follows). */
  #cut(streamId: string, s: StreamState, mark = true): void {
    const w = s.window;
    if (!w.points.length && !w.thumbnails.length && !w.embeddings.length && !w.events.length) {
      w.tracks.clear();
      return;
    }
    s.window = emptyWindow();
    const tracks: TrackSummary[] = [];
    for (const trackId of w.tracks) {
      const k = s.known.get(trackId);
      if (!k || k.classId < 0) continue;
      tracks.push(summary(trackId, k));
    }
    const batch: Batch = {
      t: 'batch',
      streamId,
      run: this.run,
      seq: ++s.seq,
      points: w.points,
      tracks,
      thumbnails: w.thumbnails,
      embeddings: w.embeddings,
      events: w.events,
    };
    for (const [trackId, k] of s.known) {
      if (s.latest - k.lastSeen > this.forgetAfterMs) s.known.delete(trackId);
    }
    try {
      this.#onBatch(batch);
      // Only once the batch is in the outbox: a window whose batch could not be queued stays in the journal.
      if (mark) this.#journal?.cut(streamId, batch.seq);
    } catch (err) {
      this.#log.error({ streamId, seq: batch.seq, err: describeError(err) }, 'cannot queue uplink batch');
    }
  }
}
