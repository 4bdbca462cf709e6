/**
 * The edge's WebRTC signalling client (docs/webrtc.md): a WebSocket to the hub's `/api/v1/media/edge`, one
 * StreamPublisher per stream of the runtime. Publishes every stream whose source is open, republishes one whose
 * source reopened with other facts, unpublishes streams that stop or go away. When the socket closes every peer
 * connection is torn down; it reconnects with backoff (0.5 s doubling to 5 s) and publishes everything again.
 * Messages are the schemas of shared/src/signalling.ts; what the hub sends is parsed with HubToEdgeMediaMessageSchema.
 * Hub errors are logged, never thrown.
 */
import {
  childLogger,
  describeError,
  type EdgeMediaMessage,
  type FrameResult,
  HubToEdgeMediaMessageSchema,
  MEDIA_EDGE_PATH,
  type PublishedVideo,
  SIGNALLING_MAX_FRAME_BYTES,
  type StreamStats,
} from '@sightline/shared';
import WebSocket from 'ws';
import type { EncodedPacket } from '../frame.ts';
import { Backoff, type BackoffOptions } from '../net/backoff.ts';
import { closeSocket, openHubSocket } from '../net/hub-socket.ts';
import type { HubTls } from '../net/hub-tls.ts';
import type { MediaDroppedFrame, MediaRuntime, MediaStreamInfo } from './runtime-contracts.ts';
import { PublishError, type PublisherStats, StreamPublisher } from './stream-publisher.ts';

/** The media signalling URL of a hub: http(s)://host/... -> ws(s)://host/api/v1/media/edge. */
export function mediaUrl(hubUrl: string): string {
  const url = new URL(MEDIA_EDGE_PATH, hubUrl);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  else if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new TypeError(`hub URL must be http(s):// or ws(s):// but is ${hubUrl}`);
  }
  return url.href;
}

export interface EdgeMediaClientOptions {
  /** Hub base URL, e.g. https://hub.example:8443 (ws:// and wss:// work too). Required. */
  hubUrl: string;
  /** The edge's credential, sent as `Authorization: Bearer <token>` on the upgrade. Required. */
  token: string;
  /** The runtime whose streams are published; call its enablePackets() before its start(). Required. */
  runtime: MediaRuntime;
  /** Longest a frame's packets wait for its result (ms). Default 500. */
  holdMs?: number;
  /** Most frames held per stream. Default 60. */
  maxHeldFrames?: number;
  /** Most RTP payload bytes per packet. Default 1200. */
  mtu?: number;
  /** Reconnect delays. Default 500 ms doubling to 5 s. */
  backoff?: BackoffOptions;
  /** Longest a publish waits for the hub's answer (ms). Default 15000. */
  answerTimeoutMs?: number;
  /** What is trusted for an https:// hub's certificate (loadHubCa). Default: the system CAs. */
  tls?: HubTls;
}

/** Counters of the media client. */
export interface MediaClientStats {
  connected: boolean;
  /** Successful connections after the first one. */
  reconnects: number;
  publishes: number;
  answers: number;
  /** Error messages from the hub. */
  hubErrors: number;
  streams: PublisherStats[];
}

interface PendingAnswer {
  resolve: (sdp: string) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** Facts whose change means the stream must be published again. */
function infoKey(info: MediaStreamInfo): string {
  return JSON.stringify([
    info.codec,
    info.width,
    info.height,
    info.hasBFrames,
    info.transcoded?.reason ?? '',
    Buffer.from(info.extradata).toString('base64'),
  ]);
}

/** Publishes the runtime's streams to the hub over WebRTC, reconnecting until close(). */
export class EdgeMediaClient {
  readonly url: string;
  readonly #o: EdgeMediaClientOptions;
  readonly #log = childLogger('media');
  readonly #backoff: Backoff;
  /** Latest info of every stream whose source is open. */
  readonly #infos = new Map<string, MediaStreamInfo>();
  readonly #publishers = new Map<string, StreamPublisher>();
  readonly #pending = new Map<string, PendingAnswer>();
  /** Streams that cannot be published (e.g. not H.264 and not re-encoded): logged once, retried on new info. */
  readonly #unpublishable = new Set<string>();
  #ws: WebSocket | undefined;
  #open = false;
  #started = false;
  #closed = false;
  #everConnected = false;
  #outageLogged = false;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #stats = { reconnects: 0, publishes: 0, answers: 0, hubErrors: 0 };
  readonly #listeners: {
    info: (id: string, info: MediaStreamInfo) => void;
    packet: (p: EncodedPacket) => void;
    result: (r: FrameResult) => void;
    dropped: (id: string, pts: number, reason: string, frame: MediaDroppedFrame) => void;
    state: (id: string, state: StreamStats['state']) => void;
    removed: (id: string) => void;
  };

  constructor(options: EdgeMediaClientOptions) {
    this.#o = options;
    this.url = mediaUrl(options.hubUrl);
    this.#backoff = new Backoff({ initialDelayMs: 500, maxDelayMs: 5000, ...options.backoff });
    this.#listeners = {
      info: (id, info) => this.#onInfo(id, info),
      packet: (p) => this.#forward(p.streamId, (pub) => pub.packet(p)),
      result: (r) => this.#forward(r.streamId, (pub) => pub.result(r)),
      dropped: (id, pts, reason, frame) => this.#forward(id, (pub) => pub.dropped(pts, reason, frame)),
      state: (id, state) => {
        if (state === 'ended' || state === 'failed' || state === 'stopped') this.#forget(id);
      },
      removed: (id) => this.#forget(id),
    };
  }

  /** True while the signalling socket is open. */
  get connected(): boolean {
    return this.#open;
  }

  /** Subscribe to the runtime and start connecting (and reconnecting until close()). */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    const rt = this.#o.runtime;
    const l = this.#listeners;
    rt.on('stream-info', l.info);
    rt.on('packet', l.packet);
    rt.on('result', l.result);
    rt.on('frame-dropped', l.dropped);
    rt.on('stream-state', l.state);
    rt.on('stream-removed', l.removed);
    for (const s of rt.stats()) {
      const info = rt.streamInfo(s.streamId);
      if (info && (s.state === 'running' || s.state === 'starting')) this.#infos.set(s.streamId, info);
    }
    this.#connect();
  }

  /** Unsubscribe, unpublish and close every peer connection and the socket. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    const rt = this.#o.runtime;
    const l = this.#listeners;
    if (this.#started) {
      rt.off('stream-info', l.info);
      rt.off('packet', l.packet);
      rt.off('result', l.result);
      rt.off('frame-dropped', l.dropped);
      rt.off('stream-state', l.state);
      rt.off('stream-removed', l.removed);
    }
    for (const id of this.#publishers.keys()) this.#sendJson({ t: 'unpublish', streamId: id });
    await this.#closePublishers('edge shutting down');
    await closeSocket(this.#ws, 'edge shutting down');
  }

  stats(): MediaClientStats {
    return {
      connected: this.#open,
      ...this.#stats,
      streams: [...this.#publishers.values()].map((p) => p.stats()),
    };
  }

  /** The publisher of a stream (while published). */
  publisher(streamId: string): StreamPublisher | undefined {
    return this.#publishers.get(streamId);
  }

  #connect(): void {
    if (this.#closed) return;
    const { ws } = openHubSocket(
      this.url,
      this.#o.token,
      { maxPayload: SIGNALLING_MAX_FRAME_BYTES, handshakeTimeoutMs: 10_000, tls: this.#o.tls },
      (socket, reason, status, tlsFailed) => this.#onClose(socket, reason, status, tlsFailed),
    );
    this.#ws = ws;
    ws.on('open', () => {
      if (ws !== this.#ws) return;
      this.#open = true;
      this.#backoff.reset();
      if (this.#everConnected) this.#stats.reconnects++;
      this.#everConnected = true;
      if (this.#outageLogged) this.#log.info({ hub: this.#o.hubUrl }, 'media signalling connected again');
      this.#outageLogged = false;
      for (const id of this.#infos.keys()) this.#publish(id);
    });
    ws.on('message', (data, isBinary) => this.#onMessage(ws, data, isBinary));
  }

  #onClose(ws: WebSocket, reason: string, status: number | undefined, tlsFailed = false): void {
    if (ws !== this.#ws) return;
    const wasOpen = this.#open;
    this.#open = false;
    this.#ws = undefined;
    void this.#closePublishers(`signalling socket closed: ${reason}`);
    if (this.#closed) return;
    // 404: the hub has no media endpoint (an older hub); 401/403: the credential is refused; a refused TLS
    // certificate (the uplink logs it as an error too). Retry slowly.
    const slow = tlsFailed || status === 404 || status === 401 || status === 403;
    if (!this.#outageLogged) {
      this.#outageLogged = true;
      if (status === 404) {
        this.#log.warn(
          { hub: this.#o.hubUrl },
          'hub has no WebRTC media endpoint (404); live video is off until it has one',
        );
      } else if (slow) {
        this.#log.error({ hub: this.#o.hubUrl, status }, 'hub refused the credential for media signalling');
      } else {
        this.#log.warn(
          { hub: this.#o.hubUrl, reason },
          wasOpen ? 'media signalling lost' : 'cannot reach hub for media signalling',
        );
      }
    }
    const delay = slow ? this.#backoff.maxDelayMs : this.#backoff.next();
    this.#reconnectTimer = setTimeout(() => this.#connect(), delay);
  }

  #onMessage(ws: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
    if (ws !== this.#ws) return;
    let raw: unknown;
    let malformed: string | undefined;
    if (isBinary) malformed = 'binary frame';
    else {
      try {
        raw = JSON.parse(Array.isArray(data) ? Buffer.concat(data).toString('utf8') : data.toString());
        if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) malformed = 'not an object';
      } catch (err) {
        malformed = describeError(err);
      }
    }
    if (malformed !== undefined) {
      this.#log.warn({ err: malformed }, 'ignoring a malformed media signalling message');
      return;
    }
    const parsed = HubToEdgeMediaMessageSchema.safeParse(raw);
    if (!parsed.success) {
      const t = (raw as { t?: unknown }).t;
      if (t !== 'answer' && t !== 'error') {
        this.#log.warn({ t }, 'ignoring an unknown media signalling message');
        return;
      }
      const issue = parsed.error.issues[0];
      this.#log.warn(
        { t, err: issue ? `${issue.path.join('.') || '(message)'}: ${issue.message}` : undefined },
        'ignoring a malformed media signalling message',
      );
      return;
    }
    const msg = parsed.data;
    if (msg.t === 'answer') {
      const { streamId } = msg;
      const p = this.#pending.get(streamId);
      if (!p) return;
      this.#pending.delete(streamId);
      clearTimeout(p.timer);
      this.#stats.answers++;
      p.resolve(msg.sdp);
      return;
    }
    this.#stats.hubErrors++;
    const { streamId } = msg;
    const text = `hub error ${msg.code}: ${msg.message}`;
    const p = streamId ? this.#pending.get(streamId) : undefined;
    if (p && streamId) {
      this.#pending.delete(streamId);
      clearTimeout(p.timer);
      p.reject(new PublishError(text));
      return;
    }
    this.#log.warn({ streamId, code: msg.code }, text);
  }

  #sendJson(message: EdgeMediaMessage): boolean {
    const ws = this.#ws;
    if (!ws || !this.#open || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(message));
    return true;
  }

  #onInfo(streamId: string, info: MediaStreamInfo): void {
    const old = this.#infos.get(streamId);
    this.#infos.set(streamId, info);
    if (old && infoKey(old) === infoKey(info) && this.#publishers.has(streamId)) return;
    this.#unpublishable.delete(streamId);
    if (this.#open) this.#publish(streamId);
  }

  /** The stream stopped, ended, failed or was removed: unpublish it. */
  #forget(streamId: string): void {
    this.#infos.delete(streamId);
    const pub = this.#publishers.get(streamId);
    if (!pub) return;
    this.#publishers.delete(streamId);
    this.#rejectPending(streamId, 'stream unpublished');
    this.#sendJson({ t: 'unpublish', streamId });
    void pub.close();
  }

  #forward(streamId: string, fn: (p: StreamPublisher) => void): void {
    const pub = this.#publishers.get(streamId);
    if (!pub) return;
    try {
      fn(pub);
    } catch (err) {
      // A publisher that cannot go on (e.g. packets that are not H.264) ends alone; the other streams keep going.
      this.#log.error({ streamId, err: describeError(err) }, 'stream publishing stopped');
      this.#unpublishable.add(streamId);
      this.#forget(streamId);
      this.#infos.delete(streamId);
    }
  }

  #publish(streamId: string): void {
    const info = this.#infos.get(streamId);
    if (!info || this.#closed) return;
    const old = this.#publishers.get(streamId);
    if (old) {
      this.#publishers.delete(streamId);
      this.#rejectPending(streamId, 'republished');
      void old.close();
    }
    let pub: StreamPublisher;
    try {
      pub = new StreamPublisher({
        streamId,
        info,
        holdMs: this.#o.holdMs,
        maxHeldFrames: this.#o.maxHeldFrames,
        mtu: this.#o.mtu,
        signal: (sdp, video) => this.#signal(streamId, sdp, video),
      });
    } catch (err) {
      this.#log.error({ streamId, err: describeError(err) }, 'cannot publish stream');
      return;
    }
    this.#publishers.set(streamId, pub);
    pub.on('keyframe-request', () => this.#o.runtime.requestKeyframe?.(streamId));
    pub.start().then(
      () => {
        if (this.#publishers.get(streamId) === pub)
          this.#log.info({ streamId, video: pub.video }, 'stream published');
      },
      (err: unknown) => {
        if (this.#publishers.get(streamId) !== pub) return;
        this.#publishers.delete(streamId);
        void pub.close();
        if (!this.#unpublishable.has(streamId)) {
          this.#unpublishable.add(streamId);
          this.#log.error(
            { streamId, err: describeError(err) },
            'cannot publish stream (retried on reconnect)',
          );
        }
      },
    );
  }

  #signal(streamId: string, sdp: string, video: PublishedVideo): Promise<string> {
    this.#rejectPending(streamId, 'publish replaced');
    return new Promise<string>((resolve, reject) => {
      const message: EdgeMediaMessage = {
        t: 'publish',
        streamId,
        sdp,
        video: {
          codec: video.codec,
          profileLevelId: video.profileLevelId,
          width: video.width,
          height: video.height,
          fps: video.fps,
          transcoded: video.transcoded,
          ...(video.note ? { note: video.note } : {}),
        },
      };
      if (!this.#sendJson(message)) {
        reject(new PublishError('media signalling is not connected'));
        return;
      }
      this.#stats.publishes++;
      const timeoutMs = this.#o.answerTimeoutMs ?? 15_000;
      const timer = setTimeout(() => {
        this.#pending.delete(streamId);
        reject(new PublishError(`no answer from the hub within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(streamId, { resolve, reject, timer });
    });
  }

  #rejectPending(streamId: string, why: string): void {
    const p = this.#pending.get(streamId);
    if (!p) return;
    this.#pending.delete(streamId);
    clearTimeout(p.timer);
    p.reject(new PublishError(why));
  }

  async #closePublishers(why: string): Promise<void> {
    for (const id of [...this.#pending.keys()]) this.#rejectPending(id, why);
    const pubs = [...this.#publishers.values()];
    this.#publishers.clear();
    this.#unpublishable.clear();
    await Promise.allSettled(pubs.map((p) => p.close()));
  }
}
