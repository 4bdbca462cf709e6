/**
 * Per-track thumbnails: keeps, per stream and track, the quality of the best view so far and JPEG-encodes a crop
 * whenever a confirmed, freshly matched track shows clearly better than that. Encoding runs in sharp's thread
 * pool, at most `maxConcurrent` at once; a crop that finds every encoder busy is skipped, never queued.
 */
import { createHash } from 'node:crypto';
import {
  childLogger,
  describeError,
  type FrameResult,
  nowMs,
  type ThumbnailConfig,
  type Track,
} from '@sightline/shared';
import sharp from 'sharp';
import type { ImageBuffer } from '../frame.ts';
import { type CropSource, cropImage } from '../preprocess/crop.ts';

/** One thumbnail of one track: a JPEG (RGB) content-addressed by the sha256 of its bytes. */
export interface TrackThumbnail {
  streamId: string;
  trackId: number;
  /** sha256 of `jpeg`, lowercase hex. */
  sha256: string;
  jpeg: Uint8Array;
  /** Its quality: track score x min(1, box height / 256). Higher is better. */
  score: number;
  /** capturedAt of the frame it was cut from (wall-clock ms). */
  ts: number;
}

export interface ThumbnailStageOptions {
  config: ThumbnailConfig;
  /** Called once per encoded thumbnail. */
  onThumbnail: (thumbnail: TrackThumbnail) => void;
  /** Encodes running at once; a crop finding them all busy is skipped. Default 2. */
  maxConcurrent?: number;
  /** A track not seen for this long is forgotten (bounded memory). Default 60000 ms. */
  forgetAfterMs?: number;
}

export interface ThumbnailStats {
  /** Thumbnails encoded and emitted. */
  encoded: number;
  /** Crops skipped because every encoder was busy. */
  skippedBusy: number;
  /** Encodes that failed. */
  failed: number;
  /** Tracks remembered across all streams. */
  tracks: number;
}

/** A track must beat its best quality by this factor to get a new thumbnail. */
const IMPROVEMENT = 1.1;
/** Box height (source pixels) from which size no longer adds to the quality. */
const FULL_HEIGHT = 256;
/** How often (ms) forgotten tracks are swept. */
const SWEEP_EVERY_MS = 5000;

interface TrackBest {
  /** Best quality emitted (or being encoded). */
  best: number;
  lastSeen: number;
  encoding: boolean;
}

/** Quality of a view of a track: its score, discounted for boxes shorter than 256 source pixels. */
export function thumbnailQuality(track: Pick<Track, 'score' | 'box'>): number {
  return track.score * Math.min(1, (track.box[3] - track.box[1]) / FULL_HEIGHT);
}

/** Swap the B and R channels of packed 3-channel pixels in place. */
function bgrToRgb(data: Uint8Array): void {
  for (let i = 0; i + 2 < data.length; i += 3) {
    const b = data[i]!;
    data[i] = data[i + 2]!;
    data[i + 2] = b;
  }
}

export class ThumbnailStage {
  #config: ThumbnailConfig;
  readonly #onThumbnail: (t: TrackThumbnail) => void;
  readonly #maxConcurrent: number;
  readonly #forgetAfterMs: number;
  readonly #streams = new Map<string, Map<number, TrackBest>>();
  readonly #running = new Set<Promise<void>>();
  readonly #log = childLogger('thumbnails');
  #lastSweep = nowMs();
  #closed = false;
  #encoded = 0;
  #skippedBusy = 0;
  #failed = 0;

  constructor(options: ThumbnailStageOptions) {
    this.#config = options.config;
    this.#onThumbnail = options.onThumbnail;
    this.#maxConcurrent = options.maxConcurrent ?? 2;
    this.#forgetAfterMs = options.forgetAfterMs ?? 60_000;
  }

  get config(): ThumbnailConfig {
    return this.#config;
  }

  /** Apply new settings; the best qualities seen so far are kept. */
  configure(config: ThumbnailConfig): void {
    this.#config = config;
  }

  /** Whether the frame with this sequence number is considered (so its pixels must be kept for offer()). */
  wants(seq: number): boolean {
    return this.#config.enabled && !this.#closed && seq % this.#config.every === 0;
  }

  /** Encodes running now. */
  get busy(): number {
    return this.#running.size;
  }

  stats(): ThumbnailStats {
    let tracks = 0;
    for (const m of this.#streams.values()) tracks += m.size;
    return { encoded: this.#encoded, skippedBusy: this.#skippedBusy, failed: this.#failed, tracks };
  }

  /**
   * Consider one tracked frame: every confirmed track matched on this frame (timeSinceUpdate 0) whose box is at
   * least minHeight tall and whose quality beats its best by 10 % is cropped from `pixels` and encoded.
   */
  offer(pixels: CropSource, result: FrameResult): void {
    if (this.#closed || !this.#config.enabled) return;
    const now = nowMs();
    if (now - this.#lastSweep >= Math.min(SWEEP_EVERY_MS, this.#forgetAfterMs)) this.#sweep(now);
    let tracks = this.#streams.get(result.streamId);
    if (!tracks) {
      tracks = new Map();
      this.#streams.set(result.streamId, tracks);
    }
    const candidates: { track: Track; quality: number; entry: TrackBest }[] = [];
    for (const track of result.tracks) {
      let entry = tracks.get(track.trackId);
      if (!entry) {
        entry = { best: 0, lastSeen: now, encoding: false };
        tracks.set(track.trackId, entry);
      }
      entry.lastSeen = now;
      if (track.status !== 'confirmed' || track.timeSinceUpdate !== 0 || entry.encoding) continue;
      if (track.box[3] - track.box[1] < this.#config.minHeight) continue;
      const quality = thumbnailQuality(track);
      if (!(quality > 0) || quality <= entry.best * IMPROVEMENT) continue;
      candidates.push({ track, quality, entry });
    }
    // With few encoders free, tracks without a thumbnail go first, then the biggest improvements.
    candidates.sort((a, b) => b.quality / (b.entry.best || 1e-9) - a.quality / (a.entry.best || 1e-9));
    for (const c of candidates) {
      if (this.#running.size >= this.#maxConcurrent) {
        this.#skippedBusy += candidates.length - candidates.indexOf(c);
        break;
      }
      const crop = cropImage(pixels, c.track.box);
      if (!crop) continue;
      this.#encode(result.streamId, c.track.trackId, c.entry, c.quality, crop, result.capturedAt);
    }
  }

  /** Forget every track of a stream (it was removed, or its tracker was reset and ids start again). */
  forgetStream(streamId: string): void {
    this.#streams.delete(streamId);
  }

  /** Resolves once no encode is running. */
  async settled(): Promise<void> {
    while (this.#running.size) await Promise.allSettled([...this.#running]);
  }

  /** Stop taking crops and wait for the encodes running now (their thumbnails are still emitted). */
  async close(): Promise<void> {
    this.#closed = true;
    await this.settled();
    this.#streams.clear();
  }

  #encode(
    streamId: string,
    trackId: number,
    entry: TrackBest,
    quality: number,
    crop: ImageBuffer,
    ts: number,
  ): void {
    const previous = entry.best;
    // Reserved now so the next frames do not encode the same improvement again.
    entry.best = quality;
    entry.encoding = true;
    const { maxSide, quality: jpegQuality } = this.#config;
    bgrToRgb(crop.data);
    const run = sharp(crop.data, { raw: { width: crop.width, height: crop.height, channels: 3 } })
      .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
      .jpeg({ quality: jpegQuality })
      .toBuffer()
      .then(
        (buf) => {
          entry.encoding = false;
          const jpeg = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
          const sha256 = createHash('sha256').update(jpeg).digest('hex');
          this.#encoded++;
          try {
            this.#onThumbnail({ streamId, trackId, sha256, jpeg, score: quality, ts });
          } catch (err) {
            this.#log.error({ err: describeError(err) }, 'a thumbnail listener threw');
          }
        },
        (err: unknown) => {
          entry.encoding = false;
          entry.best = previous;
          this.#failed++;
          this.#log.warn({ stream: streamId, track: trackId, err: describeError(err) }, 'thumbnail failed');
        },
      )
      .finally(() => {
        this.#running.delete(run);
      });
    this.#running.add(run);
  }

  #sweep(now: number): void {
    this.#lastSweep = now;
    for (const [streamId, tracks] of this.#streams) {
      for (const [id, t] of tracks)
        if (now - t.lastSeen > this.#forgetAfterMs && !t.encoding) tracks.delete(id);
      if (tracks.size === 0) this.#streams.delete(streamId);
    }
  }
}
