/**
 * Viewer signalling: WebSocket /api/v1/media/view, JSON text frames (ViewerToHubMessageSchema and
 * HubToViewerMessage, shared/src/signalling.ts). The first message is `auth` with a viewer, operator or admin
 * token, within 5 s (else an error and close 4401 for no/bad token, 4403 for a role too weak). Then `streams`
 * (at once and on every change), `watch` -> `offer`, `answer`, `unwatch`; errors never close the socket. One
 * viewer session per watched stream; closing the socket ends them. See docs/webrtc.md.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  childLogger,
  describeError,
  type HubToViewerMessage,
  MEDIA_VIEW_PATH,
  SIGNALLING_MAX_FRAME_BYTES,
  SIGNALLING_MAX_MESSAGE_BYTES,
  type ViewerToHubMessage,
  ViewerToHubMessageSchema,
} from '@sightline/shared';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { roleAllows } from '../api/auth.ts';
import type { TokenService } from '../auth/token-service.ts';
import type { HubMetrics } from '../hub-metrics.ts';
import type { UpgradeDispatcher } from '../upgrade-dispatcher.ts';
import { MediaError } from './media-error.ts';
import type { MediaHub } from './media-hub.ts';
import type { StreamInfo, ViewerSession } from './media-types.ts';
import { SdpError } from './sdp-bridge.ts';

/** Close codes: no or bad token; role too weak. */
export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_FORBIDDEN = 4403;
const MAX_MESSAGE_BYTES = SIGNALLING_MAX_MESSAGE_BYTES;
/** Messages kept while a token is being checked. */
const MAX_WAITING = 32;

export interface ViewerSignallingOptions {
  upgrades: UpgradeDispatcher;
  tokens: TokenService;
  media: MediaHub;
  metrics?: HubMetrics;
  /** How long a new socket may take to authenticate (ms). Default 5000. */
  authTimeoutMs?: number;
  /** The hub of the cluster holding an edge's connection, when another hub does (Redis). Default none. */
  holder?: (edgeId: string) => Promise<{ id: string; url: string } | undefined>;
}

export class ViewerSignalling {
  readonly #opts: ViewerSignallingOptions;
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: SIGNALLING_MAX_FRAME_BYTES });
  readonly #unregister: () => void;
  readonly #log = childLogger('media-view');

  constructor(options: ViewerSignallingOptions) {
    this.#opts = options;
    this.#unregister = options.upgrades.handle(MEDIA_VIEW_PATH, (req, socket, head) =>
      this.#upgrade(req, socket, head),
    );
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#serve(ws));
  }

  #serve(ws: WebSocket): void {
    const { media, tokens, metrics } = this.#opts;
    const send = (msg: HubToViewerMessage) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
    };
    const fail = (code: string, message: string, key?: string) =>
      send({ t: 'error', code, message, ...(key ? { key } : {}) });
    const refuse = (code: 'UNAUTHORIZED' | 'FORBIDDEN', message: string) => {
      fail(code, message);
      ws.close(code === 'UNAUTHORIZED' ? CLOSE_UNAUTHORIZED : CLOSE_FORBIDDEN, message.slice(0, 120));
    };
    /** auth: none yet, being checked, done. */
    let state: 'new' | 'checking' | 'ready' | 'closed' = 'new';
    /** Stream key -> this viewer's session (a watch in flight holds a promise). */
    const sessions = new Map<string, ViewerSession | Promise<unknown>>();
    const timer = setTimeout(
      () => state !== 'ready' && refuse('UNAUTHORIZED', 'send {"t":"auth","token"} first (within 5 s)'),
      this.#opts.authTimeoutMs ?? 5000,
    );
    const onStreams = (streams: StreamInfo[]) => send({ t: 'streams', streams });
    const onViewerClosed = (session: ViewerSession) => {
      if (sessions.get(session.key) === session) sessions.delete(session.key);
    };
    const endSession = (key: string) => {
      const s = sessions.get(key);
      sessions.delete(key);
      if (s && !(s instanceof Promise)) media.closeSession(s.id);
    };

    const authenticate = async (token: string) => {
      state = 'checking';
      let verdict: Awaited<ReturnType<TokenService['verify']>>;
      try {
        verdict = await tokens.verify(token);
      } catch (err) {
        fail('STORE_UNAVAILABLE', describeError(err));
        ws.close(1011, 'hub store unavailable');
        return;
      }
      if ((state as string) === 'closed') return;
      if (typeof verdict === 'string') {
        metrics?.authRefused.inc({ reason: verdict });
        return refuse('UNAUTHORIZED', `token refused (${verdict})`);
      }
      if (!roleAllows(verdict.role, 'viewer')) {
        metrics?.authRefused.inc({ reason: 'role' });
        return refuse('FORBIDDEN', `live video needs the viewer role; the token has ${verdict.role}`);
      }
      clearTimeout(timer);
      if (!media.available) {
        fail('MEDIA_UNAVAILABLE', `live video is off: ${media.unavailableReason}`);
        ws.close(1013, 'live video is off');
        return;
      }
      state = 'ready';
      media.on('streams', onStreams);
      media.on('viewer-closed', onViewerClosed);
      send({ t: 'streams', streams: media.streams() });
      for (const [data, isBinary] of waiting.splice(0)) onMessage(data, isBinary);
    };

    const handle = async (msg: ViewerToHubMessage) => {
      if (msg.t === 'auth') return fail('BAD_MESSAGE', 'already authenticated');
      if (msg.t === 'watch') {
        endSession(msg.key);
        const holder = this.#opts.holder;
        if (holder && !media.streams().some((s) => s.key === msg.key)) {
          // The edge is connected to another hub: the viewer is told where to watch it (no pipe between hubs).
          const other = await holder(msg.key.split('/')[0] ?? '');
          if (other?.url) {
            send({
              t: 'error',
              code: 'STREAM_ELSEWHERE',
              message: `stream ${msg.key} is served by the hub at ${other.url}: watch it there`,
              key: msg.key,
              hub: other.url,
            });
            return;
          }
        }
        const pending = media.watch(msg.key);
        sessions.set(msg.key, pending);
        try {
          const { session, offer } = await pending;
          if (state === 'closed' || sessions.get(msg.key) !== pending) {
            media.closeSession(session.id);
            return;
          }
          sessions.set(msg.key, session);
          const id = session.dataConsumer?.sctpStreamParameters?.streamId;
          send({
            t: 'offer',
            key: msg.key,
            sdp: offer,
            ...(id !== undefined ? { dataChannel: { label: 'meta' as const, id } } : {}),
          });
        } catch (err) {
          if (sessions.get(msg.key) === pending) sessions.delete(msg.key);
          throw err;
        }
      } else if (msg.t === 'answer') {
        const s = sessions.get(msg.key);
        if (!s || s instanceof Promise) {
          return fail('STREAM_UNKNOWN', `not watching ${msg.key} (send watch first)`, msg.key);
        }
        await media.answer(s.id, msg.sdp);
      } else {
        endSession(msg.key);
      }
    };

    /** Messages that came while the token was being checked: handled, in order, once it is accepted. */
    const waiting: [RawData, boolean][] = [];
    const onMessage = (data: RawData, isBinary: boolean): void => {
      if (state === 'closed') return;
      const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : (data as Buffer).byteLength;
      let msg: ViewerToHubMessage | undefined;
      let problem: string | undefined;
      if (isBinary) problem = 'messages are JSON text frames';
      else if (size > MAX_MESSAGE_BYTES)
        problem = `message of ${size} bytes is larger than ${MAX_MESSAGE_BYTES}`;
      else {
        let raw: unknown;
        try {
          raw = JSON.parse(String(data));
        } catch {
          raw = undefined;
          problem = 'not JSON';
        }
        if (!problem) {
          const parsed = ViewerToHubMessageSchema.safeParse(raw);
          if (parsed.success) msg = parsed.data;
          else {
            const issue = parsed.error.issues[0]!;
            problem = `${issue.path.join('.') || '(message)'}: ${issue.message}`;
          }
        }
      }
      if (state !== 'ready') {
        if (state === 'checking') {
          // The token is being checked: keep the message for when it is accepted (a few, then refuse).
          if (waiting.length >= MAX_WAITING) fail('BAD_MESSAGE', 'too many messages before the auth verdict');
          else waiting.push([data, isBinary]);
          return;
        }
        if (msg?.t === 'auth') void authenticate(msg.token);
        else
          refuse(
            'UNAUTHORIZED',
            `the first message must be {"t":"auth","token"}${problem ? ` (${problem})` : ''}`,
          );
        return;
      }
      if (!msg) {
        fail('BAD_MESSAGE', problem ?? 'bad message');
        return;
      }
      const key = 'key' in msg ? msg.key : undefined;
      handle(msg).catch((err) => {
        const code = err instanceof SdpError || err instanceof MediaError ? err.code : 'INTERNAL';
        if (code === 'INTERNAL') this.#log.warn({ err: describeError(err) }, `${msg.t} failed`);
        fail(code === 'SESSION_UNKNOWN' ? 'STREAM_UNKNOWN' : code, describeError(err), key);
      });
    };
    ws.on('message', onMessage);
    ws.on('close', () => {
      state = 'closed';
      clearTimeout(timer);
      media.off('streams', onStreams);
      media.off('viewer-closed', onViewerClosed);
      for (const key of [...sessions.keys()]) endSession(key);
    });
    ws.on('error', (err) => this.#log.warn({ err: describeError(err) }, 'viewer socket error'));
  }

  /** Closes every viewer socket (their sessions end) and stops accepting. */
  async close(): Promise<void> {
    this.#unregister();
    for (const ws of this.#wss.clients) ws.close(1001, 'hub shutting down');
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    for (const ws of this.#wss.clients) ws.terminate();
  }
}
