/** Synthetic uplink batches for tests and the ingest benchmark: plausible points, tracks, crops and embeddings. */
import { createHash } from 'node:crypto';
import type { Batch, EmbeddingMsg, EventMsg, Point, Thumbnail, TrackSummary } from '@sightline/shared';

/** Bytes that start like a JPEG (SOI + APP0 marker) and end like one, unique per `seed`. */
export function fakeJpeg(seed: string, size = 2048): Uint8Array {
  const out = Buffer.alloc(Math.max(size, seed.length + 6));
  out.set([0xff, 0xd8, 0xff, 0xe0]);
  out.write(seed, 4);
  out[out.length - 2] = 0xff;
  out[out.length - 1] = 0xd9;
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** sha256 (hex) of some bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A deterministic pseudo-random generator (mulberry32) in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random unit vector as float32 little-endian bytes (what the uplink carries). */
export function vectorBytes(dims: number, rand: () => number): Uint8Array {
  const v = new Float32Array(dims);
  let sq = 0;
  for (let i = 0; i < dims; i++) {
    v[i] = rand() * 2 - 1;
    sq += v[i]! * v[i]!;
  }
  const view = new DataView(new ArrayBuffer(dims * 4));
  const norm = Math.sqrt(sq) || 1;
  for (let i = 0; i < dims; i++) view.setFloat32(i * 4, v[i]! / norm, true);
  return new Uint8Array(view.buffer);
}

/** What one synthetic batch holds. */
export interface SyntheticBatchOptions {
  streamId: string;
  /** Default 'r1'. */
  run?: string;
  seq: number;
  /** Tracks visible in the window. Default 20. */
  tracks?: number;
  /** Frames in the window (points = tracks x frames). Default 12 (500 ms at 25 fps). */
  frames?: number;
  /** Frame period in ms. Default 40. */
  frameMs?: number;
  /** Start of the stream (ms since the epoch). Default 2026-01-01. */
  t0?: number;
  /** Thumbnails in the batch (each the best so far of one track). Default 1. */
  thumbnails?: number;
  /** Thumbnail size in bytes. Default 2048. */
  thumbnailBytes?: number;
  /** Embeddings in the batch. Default 2. */
  embeddings?: number;
  /** Embedding length. Default 64. */
  dimensions?: number;
  /** Embedding model id. Default 'osnet_test'. */
  model?: string;
  /** Events in the batch. Default 1. */
  events?: number;
  /** Mixed into the content (crops, vectors, jitter), e.g. the edge id, so edges send different bytes. Default ''. */
  salt?: string;
}

/**
 * One batch of a stream: `tracks` tracks over `frames` frames starting at `seq x frames x frameMs`, so batches
 * of one stream tile time and a given `(streamId, run, seq)` always yields the same batch.
 */
export function syntheticBatch(o: SyntheticBatchOptions): Batch {
  const run = o.run ?? 'r1';
  const nTracks = o.tracks ?? 20;
  const frames = o.frames ?? 12;
  const frameMs = o.frameMs ?? 40;
  const t0 = (o.t0 ?? Date.parse('2026-01-01T00:00:00Z')) + (o.seq - 1) * frames * frameMs;
  const salt = o.salt ?? '';
  const rand = prng(hashSeed(`${salt}|${o.streamId}|${run}|${o.seq}`));
  // Tracks live ~10 batches: ids move on with seq so they come and go as on a real stream.
  const base = Math.floor(o.seq / 10) * nTracks;
  const points: Point[] = [];
  const tracks: TrackSummary[] = [];
  for (let f = 0; f < frames; f++) {
    for (let k = 0; k < nTracks; k++) {
      const x = ((k * 97 + o.seq * 13 + f * 3) % 1800) + rand() * 4;
      const y = ((k * 53) % 900) + rand() * 4;
      points.push([base + k + 1, t0 + f * frameMs, x, y, x + 60, y + 160, 0.5 + rand() * 0.5]);
    }
  }
  const thumbnails: Thumbnail[] = [];
  const nThumbs = Math.min(o.thumbnails ?? 1, nTracks);
  for (let k = 0; k < nTracks; k++) {
    const track: TrackSummary = {
      trackId: base + k + 1,
      label: k % 3 === 0 ? 'car' : 'person',
      classId: k % 3 === 0 ? 2 : 0,
      firstSeen: t0,
      lastSeen: t0 + (frames - 1) * frameMs,
    };
    if (k < nThumbs) {
      const jpeg = fakeJpeg(`${salt}|${o.streamId}|${run}|${o.seq}|${k}`, o.thumbnailBytes ?? 2048);
      const sha256 = sha256Hex(jpeg);
      thumbnails.push({ sha256, jpeg });
      track.thumbnail = sha256;
      track.thumbnailScore = rand();
    }
    tracks.push(track);
  }
  const embeddings: EmbeddingMsg[] = [];
  for (let i = 0; i < (o.embeddings ?? 2); i++) {
    embeddings.push({
      trackId: base + (i % nTracks) + 1,
      ts: t0 + i * frameMs,
      model: o.model ?? 'osnet_test',
      vector: vectorBytes(o.dimensions ?? 64, rand),
    });
  }
  const events: EventMsg[] = [];
  for (let i = 0; i < (o.events ?? 1); i++) {
    events.push({ kind: 'line_crossing', ts: t0 + i, data: { line: 'door', trackId: base + 1, dir: 'in' } });
  }
  return {
    t: 'batch',
    streamId: o.streamId,
    run,
    seq: o.seq,
    points,
    tracks,
    thumbnails,
    embeddings,
    events,
  };
}

function hashSeed(s: string): number {
  return createHash('sha256').update(s).digest().readUInt32LE(0);
}
