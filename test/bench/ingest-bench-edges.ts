/** Ingest benchmark, the simulated edges: synthetic uplink batches, enrollment and lean `ws` uplink clients. */
import { once } from 'node:events';
import { Decoder, Encoder } from '@msgpack/msgpack';
import { syntheticBatch } from '@sightline/hub/testing';
import {
  type Batch,
  type HubMessage,
  UPLINK_MAX_FRAME_BYTES,
  UPLINK_PATH,
  UPLINK_PROTOCOL,
} from '@sightline/shared';
import WebSocket from 'ws';

/** The run id every simulated edge sends (batches and hello). */
export const run = `bench${process.pid}`;

/** The batch flags (--tracks, --window-ms / --fps, --thumbnails, --thumbnail-bytes, --embeddings, --dims). */
export interface BatchShape {
  tracks: number;
  frames: number;
  frameMs: number;
  thumbnails: number;
  thumbnailBytes: number;
  embeddings: number;
  dimensions: number;
}

export type MakeBatch = (edgeId: string, stream: string, seq: number) => Batch;

/** The synthetic batch of one edge's stream at one seq. */
export function batchMaker(shape: BatchShape): MakeBatch {
  return (edgeId, stream, seq) =>
    syntheticBatch({
      salt: edgeId,
      streamId: stream,
      run,
      seq,
      tracks: shape.tracks,
      frames: shape.frames,
      frameMs: shape.frameMs,
      thumbnails: shape.thumbnails,
      thumbnailBytes: shape.thumbnailBytes,
      embeddings: shape.embeddings,
      dimensions: shape.dimensions,
    });
}

async function post<T>(hubUrl: string, path: string, token: string, body: unknown): Promise<T> {
  const res = await fetch(new URL(path, hubUrl), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** An edge credential the way an edge gets one: an enrollment token from the admin, traded at /api/v1/enroll. */
export async function enrollEdge(hubUrl: string, adminToken: string, edgeId: string): Promise<string> {
  const { token: enrollToken } = await post<{ token: string }>(
    hubUrl,
    '/api/v1/enrollment-tokens',
    adminToken,
    {
      edgeId,
    },
  );
  const { token } = await post<{ token: string }>(hubUrl, '/api/v1/enroll', enrollToken, { edgeId });
  return token;
}

export interface EdgeTotals {
  batches: number;
  points: number;
  embeddings: number;
  thumbnails: number;
  latencies: number[];
}

/** A connected edge: hello sent, welcome received. */
export async function connectEdge(hubUrl: string, token: string, edgeId: string): Promise<WebSocket> {
  const url = new URL(UPLINK_PATH, hubUrl);
  url.protocol = 'ws:';
  const ws = new WebSocket(url, {
    headers: { authorization: `Bearer ${token}` },
    maxPayload: UPLINK_MAX_FRAME_BYTES,
  });
  await once(ws, 'open');
  ws.send(
    new Encoder({ ignoreUndefined: true }).encode({
      t: 'hello',
      protocol: UPLINK_PROTOCOL,
      edgeId,
      run,
      version: 'ingest-bench',
      model: 'synthetic',
      provider: 'none',
      streams: [],
    }),
  );
  const [data] = (await once(ws, 'message')) as [Buffer];
  const msg = new Decoder().decode(data) as HubMessage;
  if (msg.t !== 'welcome') throw new Error(`${edgeId}: expected welcome, got ${JSON.stringify(msg)}`);
  return ws;
}

export interface PumpOptions {
  /** --streams: the edge's streams, round-robin. */
  streams: number;
  /** --window: at most this many unacked batches. */
  windowSize: number;
  make: MakeBatch;
}

/**
 * One edge sending as fast as acks allow: batches round-robin over its streams, at most `windowSize` unacked,
 * until the deadline; then waits for the last acks.
 */
export function pumpEdge(
  ws: WebSocket,
  edgeId: string,
  deadline: number,
  totals: EdgeTotals,
  { streams, windowSize, make }: PumpOptions,
): Promise<void> {
  const encoder = new Encoder({ ignoreUndefined: true });
  const decoder = new Decoder();
  const seqs = new Array<number>(streams).fill(0);
  const inFlight = new Map<
    string,
    { sent: number; points: number; embeddings: number; thumbnails: number }
  >();
  let i = 0;
  return new Promise<void>((resolve, reject) => {
    const pump = () => {
      while (inFlight.size < windowSize && performance.now() < deadline) {
        const s = i++ % streams;
        const batch = make(edgeId, `cam${s + 1}`, ++seqs[s]!);
        const bytes = encoder.encode(batch);
        inFlight.set(`${batch.streamId}/${batch.seq}`, {
          sent: performance.now(),
          points: batch.points.length,
          embeddings: batch.embeddings.length,
          thumbnails: batch.thumbnails.length,
        });
        ws.send(bytes, { binary: true });
      }
      if (inFlight.size === 0) {
        ws.off('close', onClose);
        ws.close(1000, 'bench done');
        resolve();
      }
    };
    const onClose = (code: number, reason: Buffer) =>
      reject(new Error(`${edgeId}: uplink closed (${code} ${reason.toString()})`));
    ws.on('close', onClose);
    ws.on('message', (data: Buffer) => {
      const msg = decoder.decode(data) as HubMessage;
      if (msg.t === 'error') return reject(new Error(`${edgeId}: hub error ${msg.code}: ${msg.message}`));
      if (msg.t !== 'ack') return;
      const key = `${msg.streamId}/${msg.seq}`;
      const sent = inFlight.get(key);
      if (!sent) return reject(new Error(`${edgeId}: ack for ${key}, which is not in flight`));
      inFlight.delete(key);
      totals.latencies.push(performance.now() - sent.sent);
      totals.batches++;
      totals.points += sent.points;
      totals.embeddings += sent.embeddings;
      totals.thumbnails += sent.thumbnails;
      pump();
    });
    pump();
  });
}
