/**
 * WHIP ingest (RFC 9725) on the edge: a browser, OBS or GStreamer publishes a camera with `POST /whip/<streamId>`
 * (an SDP offer with H.264 video, `Authorization: Bearer <token>`) and gets `201 Created`, the SDP answer and a
 * `Location: /whip/<streamId>/<sessionId>` to DELETE when done. Each session's RTP is forwarded as plain RTP to a
 * local UDP port and the camera becomes the runtime stream `whip://<streamId>`, which FFmpeg opens through an SDP
 * (see ../sources/whip-inputs.ts): decoded, inferred and tracked like any other source.
 */

import { randomUUID } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childLogger, ID_PATTERN, type Logger, type StreamConfigInput } from '@sightline/shared';
import type { RTCPeerConnection, RTCRtpTransceiver } from 'werift';
import { registerWhipInput } from '../sources/whip-inputs.ts';
import { skipDefaultStun } from './werift-ice.ts';
import { CORS, checkBearer, HttpError, MAX_BODY, readBody, sha256 } from './whip-http.ts';
import { answerOffer, whipPeerConnection } from './whip-peer.ts';
import { checkWhipOffer, type OfferedH264, rtpInputSdp, startsKeyframe } from './whip-sdp.ts';
import { freeRtpPort, rtcpBye } from './whip-udp.ts';

/** What the WHIP server needs of the runtime (an EdgeRuntime fits). */
export interface WhipRuntime {
  addStream(config: StreamConfigInput): Promise<unknown>;
  removeStream(id: string): Promise<void>;
  /** Used to ask for keyframes until the stream decodes; without it keyframes are asked for until one passes. */
  stats?(): readonly { streamId: string; framesDecoded: number }[];
  /** 'keyframe-wanted' (a viewer of a WHIP stream joined): the server asks the publisher for a keyframe. */
  on?(event: 'keyframe-wanted', listener: (streamId: string) => void): unknown;
  off?(event: 'keyframe-wanted', listener: (streamId: string) => void): unknown;
}

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
  iceServers?: { urls: string; username?: string; credential?: string }[];
}

/** One live WHIP session as reported by sessions(). */
export interface WhipSessionInfo {
  id: string;
  streamId: string;
  state: 'connecting' | 'connected' | 'ending';
  createdAt: number;
  /** RTP packets forwarded to the decoder. */
  packets: number;
  /** Keyframe starts seen. */
  keyframes: number;
  /** Keyframe requests (RTCP PLI) sent to the publisher. */
  plis: number;
  profileLevelId?: string;
}

interface Session extends WhipSessionInfo {
  pc: RTCPeerConnection;
  h264: OfferedH264;
  /** The local UDP port FFmpeg receives on. */
  port: number;
  socket: Socket;
  /** The SDP file FFmpeg opens. */
  sdpPath: string;
  unregister: () => void;
  mediaSsrc?: number;
  transceiver?: RTCRtpTransceiver;
  timers: NodeJS.Timeout[];
  decoded: number;
  progressAt: number;
  /** When the last RTP packet arrived (or the peer connected). */
  rtpAt: number;
  /** The runtime has the stream (addStream resolved). */
  added: boolean;
  pliAt: number;
  ended?: Promise<void>;
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
  readonly #iceServers: { urls: string; username?: string; credential?: string }[];
  readonly #log: Logger;
  /** Live sessions by stream id (and by session id). */
  readonly #byStream = new Map<string, Session>();
  readonly #byId = new Map<string, Session>();
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
    const server = createServer((req, res) => void this.#handle(req, res));
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
    return [...this.#byId.values()].map((s) => ({
      id: s.id,
      streamId: s.streamId,
      state: s.state,
      createdAt: s.createdAt,
      packets: s.packets,
      keyframes: s.keyframes,
      plis: s.plis,
      ...(s.profileLevelId ? { profileLevelId: s.profileLevelId } : {}),
    }));
  }

  /** End every session (their streams leave the runtime) and stop listening. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#runtime.off?.('keyframe-wanted', this.#onKeyframeWanted);
    const server = this.#server;
    await Promise.allSettled([...this.#byId.values()].map((s) => this.#end(s, 'server closing')));
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    if (this.#dir) await rm(await this.#dir, { recursive: true, force: true }).catch(() => {});
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://whip');
      const parts = url.pathname.split('/').filter(Boolean);
      if (parts[0] !== 'whip' || parts.length < 2 || parts.length > 3) {
        throw new HttpError(
          404,
          'NOT_FOUND',
          `no WHIP endpoint at ${url.pathname}; publish to /whip/<streamId>`,
        );
      }
      let streamId: string;
      let sessionId: string | undefined;
      try {
        streamId = decodeURIComponent(parts[1]!);
        sessionId = parts[2] === undefined ? undefined : decodeURIComponent(parts[2]);
      } catch {
        throw new HttpError(400, 'BAD_PATH', `malformed path ${url.pathname}`);
      }
      const method = req.method ?? 'GET';
      if (method === 'OPTIONS') {
        res.writeHead(204, {
          ...CORS,
          'Access-Control-Allow-Methods': sessionId ? 'DELETE, PATCH, OPTIONS' : 'POST, OPTIONS',
          'Access-Control-Allow-Headers': 'Authorization, Content-Type, If-Match',
          'Access-Control-Max-Age': '86400',
          ...(sessionId ? {} : { 'Accept-Post': 'application/sdp' }),
        });
        res.end();
        return;
      }
      const allowed = sessionId ? ['DELETE', 'PATCH'] : ['POST'];
      if (!allowed.includes(method)) {
        throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed here`, {
          Allow: [...allowed, 'OPTIONS'].join(', '),
        });
      }
      checkBearer(req, this.#token);
      if (method === 'POST') return await this.#post(req, res, streamId);
      const s = this.#byId.get(sessionId!);
      if (!s || s.streamId !== streamId) {
        throw new HttpError(404, 'SESSION_UNKNOWN', `no WHIP session ${url.pathname}`);
      }
      if (method === 'PATCH') {
        // Trickle ICE and ICE restarts are not supported: the answer carries every candidate.
        throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'trickle ICE / ICE restart is not supported', {
          Allow: 'DELETE, OPTIONS',
        });
      }
      await this.#end(s, 'DELETE');
      res.writeHead(200, CORS);
      res.end();
    } catch (err) {
      const e =
        err instanceof HttpError
          ? err
          : new HttpError(500, 'INTERNAL', `WHIP request failed: ${(err as Error).message}`);
      if (e.status >= 500) this.#log.warn({ err: (err as Error).message }, 'WHIP request failed');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(e.status, {
        ...CORS,
        'Content-Type': 'application/json',
        ...(e.status === 401 ? { 'WWW-Authenticate': 'Bearer realm="whip"' } : {}),
        ...e.headers,
      });
      res.end(JSON.stringify({ error: { code: e.code, message: e.message } }));
      // Drop what is left of a body we did not read.
      if (!req.complete) req.resume();
    }
  }

  async #post(req: IncomingMessage, res: ServerResponse, streamId: string): Promise<void> {
    if (!ID_PATTERN.test(streamId)) {
      throw new HttpError(
        400,
        'STREAM_ID_INVALID',
        `invalid stream id "${streamId}": letters, digits, _ . - (max 64)`,
      );
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/sdp') {
      throw new HttpError(
        415,
        'UNSUPPORTED_MEDIA_TYPE',
        `expected Content-Type: application/sdp, got ${type || 'none'}`,
        { 'Accept-Post': 'application/sdp' },
      );
    }
    const body = await readBody(req, MAX_BODY);
    const check = checkWhipOffer(body);
    if (!check.ok) throw new HttpError(400, check.code, check.message);
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
      const { session, answer } = await this.#open(streamId, check.h264, check.offer);
      res.writeHead(201, {
        ...CORS,
        'Content-Type': 'application/sdp',
        Location: `/whip/${encodeURIComponent(streamId)}/${session.id}`,
        ETag: `"${session.id}"`,
      });
      res.end(answer);
    } finally {
      this.#pending.delete(streamId);
    }
  }

  /** Answer the offer, start forwarding, add the stream; undoes everything when a step fails. */
  async #open(
    streamId: string,
    h264: OfferedH264,
    offer: string,
  ): Promise<{ session: Session; answer: string }> {
    const pc = whipPeerConnection(h264, this.#iceServers);
    // Tracks appear while the offer is applied; their RTP goes to the session once it exists.
    let forward: ((ssrc: number, packet: Buffer, payload: Buffer) => void) | undefined;
    pc.onTrack.subscribe((track) => {
      if (track.kind !== 'video') return; // audio, if any, is not forwarded
      track.onReceiveRtp.subscribe((rtp) => forward?.(rtp.header.ssrc, rtp.serialize(), rtp.payload));
    });
    const answer = await answerOffer(pc, offer, this.#iceServers);
    let port: number;
    let sdpPath: string;
    try {
      port = await freeRtpPort();
      this.#dir ??= mkdtemp(join(tmpdir(), 'sightline-whip-'));
      sdpPath = join(await this.#dir, `${streamId}-${port}.sdp`);
      await writeFile(sdpPath, rtpInputSdp(streamId, port, h264));
    } catch (err) {
      await pc.close().catch(() => {});
      throw err;
    }
    const socket = createSocket('udp4');
    const s: Session = {
      id: randomUUID(),
      streamId,
      state: 'connecting',
      createdAt: Date.now(),
      packets: 0,
      keyframes: 0,
      plis: 0,
      ...(h264.profileLevelId ? { profileLevelId: h264.profileLevelId } : {}),
      pc,
      h264,
      port,
      socket,
      sdpPath,
      unregister: registerWhipInput(streamId, sdpPath),
      timers: [],
      decoded: 0,
      progressAt: 0,
      rtpAt: 0,
      added: false,
      pliAt: 0,
    };
    socket.on('error', (err) => this.#log.debug({ stream: streamId, err: err.message }, 'RTP forward error'));
    s.transceiver = pc.getTransceivers().find((t) => t.kind === 'video');
    forward = (ssrc, packet, payload) => this.#forward(s, ssrc, packet, payload);
    pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected' && s.state === 'connecting') {
        s.state = 'connected';
        s.rtpAt = Date.now();
        this.#log.info({ stream: streamId, session: s.id }, 'WHIP publisher connected');
      }
      if (state === 'failed' || state === 'closed') void this.#end(s, `peer connection ${state}`);
    });
    s.timers.push(
      setTimeout(() => {
        if (s.state === 'connecting') void this.#end(s, 'the publisher did not connect in time');
      }, this.#connectTimeoutMs),
      setInterval(() => {
        if (s.state === 'connected' && Date.now() - s.rtpAt > this.#idleTimeoutMs) {
          void this.#end(s, `no media for ${this.#idleTimeoutMs} ms`);
        } else if (
          s.added &&
          this.#runtime.stats &&
          !this.#runtime.stats().some((x) => x.streamId === streamId)
        ) {
          // Removed from the runtime by someone else (an operator, the hub): the session has no purpose left.
          void this.#end(s, 'the stream was removed from the runtime', false);
        } else {
          this.#checkKeyframes(s);
        }
      }, this.#keyframeCheckMs),
    );
    this.#byStream.set(streamId, s);
    this.#byId.set(s.id, s);
    try {
      await this.#runtime.addStream({ ...this.#stream, id: streamId, source: `whip://${streamId}` });
      s.added = true;
    } catch (err) {
      const message = (err as Error).message;
      const detail = (err as { issues?: string[] }).issues?.join('; ');
      await this.#end(s, 'the runtime refused the stream', false);
      if (/already exists/.test(detail ?? message)) {
        throw new HttpError(409, 'STREAM_BUSY', `the edge already has a stream "${streamId}"`);
      }
      throw new HttpError(500, 'STREAM_FAILED', `cannot add stream "${streamId}": ${detail ?? message}`);
    }
    this.#log.info({ stream: streamId, session: s.id, port, pt: h264.pt }, 'WHIP session started');
    return { session: s, answer };
  }

  #forward(s: Session, ssrc: number, packet: Buffer, payload: Buffer): void {
    if (s.state === 'ending') return;
    const first = s.mediaSsrc === undefined;
    s.mediaSsrc ??= ssrc;
    s.rtpAt = Date.now();
    if (first) this.#checkKeyframes(s);
    if (startsKeyframe(payload)) s.keyframes++;
    // Nothing before the first keyframe: the decoder could only complain about it.
    if (s.keyframes === 0) return;
    // Every packet on the payload type FFmpeg's SDP names (the answer offers only that one anyway).
    packet[1] = (packet[1]! & 0x80) | s.h264.pt;
    s.packets++;
    s.socket.send(packet, s.port, '127.0.0.1');
  }

  /** A viewer of a WHIP stream needs a keyframe: ask its publisher (at most twice a second). */
  readonly #onKeyframeWanted = (streamId: string): void => {
    for (const s of this.#byId.values()) {
      if (s.streamId !== streamId || s.state === 'ending' || s.mediaSsrc === undefined || !s.transceiver)
        continue;
      const now = Date.now();
      if (now - s.pliAt < 500) continue;
      s.pliAt = now;
      s.plis++;
      void s.transceiver.receiver.sendRtcpPLI(s.mediaSsrc).catch(() => {});
    }
  };

  /** Ask for a keyframe (RTCP PLI) while media flows but the stream has decoded nothing for a while. */
  #checkKeyframes(s: Session): void {
    if (s.state === 'ending' || s.mediaSsrc === undefined || !s.transceiver) return;
    const now = Date.now();
    const stats = this.#runtime.stats?.().find((x) => x.streamId === s.streamId);
    if (stats) {
      if (stats.framesDecoded > s.decoded) {
        s.decoded = stats.framesDecoded;
        s.progressAt = now;
      }
      if (now - s.progressAt < 1500) return;
    } else if (s.keyframes > 0) {
      return;
    }
    if (now - s.pliAt < (s.decoded === 0 ? 500 : 1000)) return;
    s.pliAt = now;
    s.plis++;
    void s.transceiver.receiver.sendRtcpPLI(s.mediaSsrc).catch(() => {});
  }

  /** End a session: stop forwarding, take the stream out of the runtime, close the peer. Safe to call twice. */
  #end(s: Session, why: string, removeStream = true): Promise<void> {
    if (s.ended) return s.ended;
    s.state = 'ending';
    // Set before any step runs: closing the peer below reports 'closed', which calls #end again.
    s.ended = Promise.resolve().then(() => this.#teardown(s, why, removeStream));
    return s.ended;
  }

  async #teardown(s: Session, why: string, removeStream: boolean): Promise<void> {
    for (const t of s.timers) clearTimeout(t);
    this.#log.info({ stream: s.streamId, session: s.id, why, packets: s.packets }, 'WHIP session ending');
    // The decoder may be blocked waiting for RTP: RTCP BYEs end its input until its stream is gone.
    const bye = rtcpBye(s.mediaSsrc ?? 0);
    const sendBye = () => s.socket.send(bye, s.port, '127.0.0.1');
    sendBye();
    const byes = setInterval(sendBye, 100);
    try {
      if (removeStream) {
        await this.#runtime.removeStream(s.streamId).catch((err: Error) => {
          // Already removed (e.g. by an operator): nothing to do.
          this.#log.debug({ stream: s.streamId, err: err.message }, 'removing the WHIP stream');
        });
      }
    } finally {
      clearInterval(byes);
      s.unregister();
      s.socket.close();
      await rm(s.sdpPath, { force: true }).catch(() => {});
      await s.pc.close().catch(() => {});
      if (this.#byStream.get(s.streamId) === s) this.#byStream.delete(s.streamId);
      this.#byId.delete(s.id);
    }
  }
}

export { skipDefaultStun };
