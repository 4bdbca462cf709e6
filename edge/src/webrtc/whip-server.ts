/**
 * WHIP ingest (RFC 9725) on the edge: a browser, OBS or GStreamer publishes a camera with `POST /whip/<streamId>`
 * (an SDP offer with H.264 video, `Authorization: Bearer <token>`) and gets `201 Created`, the SDP answer and a
 * `Location: /whip/<streamId>/<sessionId>` to DELETE when done. Each session's RTP is forwarded as plain RTP to a
 * local UDP port and the camera becomes the runtime stream `whip://<streamId>`, which FFmpeg opens through an SDP
 * (see ../sources/whip-inputs.ts): decoded, inferred and tracked like any other source.
 *
 * This file admits sessions and keeps them; whip-http.ts routes and authenticates the requests, whip-session.ts
 * runs one publisher's peer connection, whip-udp.ts forwards its RTP, whip-keyframes.ts decides its keyframe requests.
 */

import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childLogger, type Logger, type StreamConfigInput } from '@sightline/shared';
import type { WhipRuntime } from './runtime-contracts.ts';
import { HttpError, sha256, whipRequestHandler } from './whip-http.ts';
import type { IceServer } from './whip-peer.ts';
import type { OfferedH264 } from './whip-sdp.ts';
import { WhipSession, type WhipSessionInfo } from './whip-session.ts';

export type { WhipRuntime } from './runtime-contracts.ts';
export type { WhipSessionInfo } from './whip-session.ts';

export interface WhipServerOptions {
  runtime: WhipRuntime;
  /** TCP port; 0 picks a free one. Default 8089. */
  port?: number;
  /** Listen address. Default 127.0.0.1 (this host only). */
  host?: string;
  /** Bearer token publishers must send. Required unless allowAnonymous. */
  token?: string;
  /** Accept publishers without a token. Default false. */
  allowAnonymous?: boolean;
  /** Most live sessions at once; more get 503. Default 8. */
  maxSessions?: number;
  /** Stream settings for every published camera (e.g. stalenessMs); id and source are set by the server. */
  stream?: Omit<StreamConfigInput, 'id' | 'source'>;
  /** A session whose peer has not connected this long after the answer ends. Default 15000 ms. */
  connectTimeoutMs?: number;
  /** A connected session that has received no RTP this long ends (the publisher went away). Default 10000 ms. */
  idleTimeoutMs?: number;
  /** How often to check whether a keyframe is needed (RTCP PLI). Default 500 ms. */
  keyframeCheckMs?: number;
  /** STUN / TURN servers for the answer's candidates (an edge behind NAT). Default none: host candidates only. */
  iceServers?: IceServer[];
}

export class WhipServer {
  readonly #runtime: WhipRuntime;
  readonly #host: string;
  readonly #wantPort: number;
  readonly #token: Buffer | undefined;
  readonly #maxSessions: number;
  readonly #stream: Omit<StreamConfigInput, 'id' | 'source'>;
  readonly #connectTimeoutMs: number;
  readonly #keyframeCheckMs: number;
  readonly #idleTimeoutMs: number;
  readonly #iceServers: IceServer[];
  readonly #log: Logger;
  /** Live sessions by stream id (and by session id). */
  readonly #byStream = new Map<string, WhipSession>();
  readonly #byId = new Map<string, WhipSession>();
  /** Stream ids whose POST is being answered (so a second POST at the same time gets 409). */
  readonly #pending = new Set<string>();
  #server: Server | undefined;
  #closed = false;
  /** Folder of the sessions' SDP files (made on first use, removed on close). */
  #dir: Promise<string> | undefined;

  constructor(options: WhipServerOptions) {
    if (!options?.runtime) throw new TypeError('Expected options.runtime (addStream / removeStream)');
    const port = options.port ?? 8089;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`Expected a port 0..65535 for port but received ${String(port)}`);
    }
    if (!options.token && !options.allowAnonymous) {
      throw new TypeError('WHIP needs a token (or allowAnonymous: true to accept any publisher)');
    }
    const max = options.maxSessions ?? 8;
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`Expected a positive integer for maxSessions but received ${String(max)}`);
    }
    this.#runtime = options.runtime;
    this.#host = options.host ?? '127.0.0.1';
    this.#wantPort = port;
    this.#token = options.token ? sha256(options.token) : undefined;
    this.#maxSessions = max;
    this.#stream = options.stream ?? {};
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 15_000;
    this.#keyframeCheckMs = options.keyframeCheckMs ?? 500;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 10_000;
    this.#iceServers = options.iceServers ?? [];
    this.#log = childLogger('whip');
  }

  /** Listen; resolves with the bound port. */
  async listen(): Promise<number> {
    if (this.#server) return this.port;
    this.#runtime.on?.('keyframe-wanted', this.#onKeyframeWanted);
    const handle = whipRequestHandler(
      this.#token,
      {
        publish: (streamId, h264, offer) => this.#publish(streamId, h264, offer),
        has: (streamId, sessionId) => this.#byId.get(sessionId)?.streamId === streamId,
        end: (sessionId) => this.#byId.get(sessionId)?.end('DELETE') ?? Promise.resolve(),
      },
      this.#log,
    );
    const server = createServer((req, res) => void handle(req, res));
    this.#server = server;
    server.listen(this.#wantPort, this.#host);
    await once(server, 'listening');
    this.#log.info({ url: this.url }, 'WHIP ingest listening');
    return this.port;
  }

  get port(): number {
    const a = this.#server?.address();
    return a && typeof a === 'object' ? a.port : 0;
  }

  /** Base URL, e.g. http://127.0.0.1:8089 (publish to `${url}/whip/<streamId>`). */
  get url(): string {
    const host = this.#host.includes(':') ? `[${this.#host}]` : this.#host;
    return `http://${host}:${this.port}`;
  }

  sessions(): WhipSessionInfo[] {
    return [...this.#byId.values()].map((s) => s.info());
  }

  /** End every session (their streams leave the runtime) and stop listening. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#runtime.off?.('keyframe-wanted', this.#onKeyframeWanted);
    const server = this.#server;
    await Promise.allSettled([...this.#byId.values()].map((s) => s.end('server closing')));
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    if (this.#dir) await rm(await this.#dir, { recursive: true, force: true }).catch(() => {});
  }

  /** Admit a publisher of `streamId` (one per stream, at most maxSessions) and open its session. */
  async #publish(
    streamId: string,
    h264: OfferedH264,
    offer: string,
  ): Promise<{ sessionId: string; answer: string }> {
    if (this.#closed) throw new HttpError(503, 'CLOSING', 'the WHIP server is closing');
    // A session still tearing down for this id: let it finish, then take its place.
    const old = this.#byStream.get(streamId);
    if (old?.state === 'ending') await old.ended;
    if (this.#byStream.has(streamId) || this.#pending.has(streamId)) {
      throw new HttpError(409, 'STREAM_BUSY', `stream "${streamId}" is already being published`);
    }
    if (this.#runtime.stats?.().some((x) => x.streamId === streamId)) {
      throw new HttpError(409, 'STREAM_BUSY', `the edge already has a stream "${streamId}"`);
    }
    if (this.#byId.size + this.#pending.size >= this.#maxSessions) {
      throw new HttpError(503, 'TOO_MANY_SESSIONS', `at most ${this.#maxSessions} WHIP sessions at once`, {
        'Retry-After': '5',
      });
    }
    this.#pending.add(streamId);
    try {
      const { session, answer } = await this.#open(streamId, h264, offer);
      return { sessionId: session.id, answer };
    } finally {
      this.#pending.delete(streamId);
    }
  }

  /** Open the session and add its stream to the runtime; undoes everything when a step fails. */
  async #open(
    streamId: string,
    h264: OfferedH264,
    offer: string,
  ): Promise<{ session: WhipSession; answer: string }> {
    const { session: s, answer } = await WhipSession.open({
      streamId,
      h264,
      offer,
      runtime: this.#runtime,
      log: this.#log,
      iceServers: this.#iceServers,
      sdpDir: () => {
        this.#dir ??= mkdtemp(join(tmpdir(), 'sightline-whip-'));
        return this.#dir;
      },
      connectTimeoutMs: this.#connectTimeoutMs,
      idleTimeoutMs: this.#idleTimeoutMs,
      keyframeCheckMs: this.#keyframeCheckMs,
      onEnded: (ended) => {
        if (this.#byStream.get(ended.streamId) === ended) this.#byStream.delete(ended.streamId);
        this.#byId.delete(ended.id);
      },
    });
    this.#byStream.set(streamId, s);
    this.#byId.set(s.id, s);
    try {
      await this.#runtime.addStream({ ...this.#stream, id: streamId, source: `whip://${streamId}` });
      s.added = true;
    } catch (err) {
      const message = (err as Error).message;
      const detail = (err as { issues?: string[] }).issues?.join('; ');
      await s.end('the runtime refused the stream', false);
      if (/already exists/.test(detail ?? message)) {
        throw new HttpError(409, 'STREAM_BUSY', `the edge already has a stream "${streamId}"`);
      }
      throw new HttpError(500, 'STREAM_FAILED', `cannot add stream "${streamId}": ${detail ?? message}`);
    }
    this.#log.info({ stream: streamId, session: s.id, port: s.port, pt: h264.pt }, 'WHIP session started');
    return { session: s, answer };
  }

  /** A viewer of a WHIP stream needs a keyframe: ask its publisher (at most twice a second). */
  readonly #onKeyframeWanted = (streamId: string): void => {
    for (const s of this.#byId.values()) if (s.streamId === streamId) s.keyframeWanted();
  };
}
