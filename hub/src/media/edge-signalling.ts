/**
 * Edge publish signalling: WebSocket /api/v1/media/edge (edge credential, as the uplink). JSON text frames
 * (EdgeMediaMessageSchema, shared/src/signalling.ts): `publish` -> `answer`, `unpublish`; anything malformed gets
 * an `error` (BAD_MESSAGE, SDP_INVALID, ...) and the socket stays open. When the socket closes, the streams it
 * published end. See docs/webrtc.md.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  childLogger,
  describeError,
  EdgeMediaMessageSchema,
  type HubToEdgeMediaMessage,
  ID_PATTERN,
  MEDIA_EDGE_PATH,
  SIGNALLING_MAX_FRAME_BYTES,
  SIGNALLING_MAX_MESSAGE_BYTES,
} from '@sightline/shared';
import { type WebSocket, WebSocketServer } from 'ws';
import type { TokenService } from '../auth/token-service.ts';
import type { HubMetrics } from '../hub-metrics.ts';
import { edgeCredential, refuseUpgrade, type UpgradeDispatcher } from '../upgrade-dispatcher.ts';
import { MediaError } from './media-error.ts';
import type { MediaHub } from './media-hub.ts';
import { SdpError } from './sdp-bridge.ts';

/** Largest message handled (a bigger one gets BAD_MESSAGE; beyond SIGNALLING_MAX_FRAME_BYTES the socket closes, 1009). */
const MAX_MESSAGE_BYTES = SIGNALLING_MAX_MESSAGE_BYTES;

export interface EdgeSignallingOptions {
  upgrades: UpgradeDispatcher;
  tokens: TokenService;
  media: MediaHub;
  metrics?: HubMetrics;
}

export class EdgeSignalling {
  readonly #opts: EdgeSignallingOptions;
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: SIGNALLING_MAX_FRAME_BYTES });
  readonly #unregister: () => void;
  readonly #log = childLogger('media-edge');

  constructor(options: EdgeSignallingOptions) {
    this.#opts = options;
    this.#unregister = options.upgrades.handle(MEDIA_EDGE_PATH, (req, socket, head) =>
      this.#upgrade(req, socket, head),
    );
  }

  async #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const { tokens, media, metrics } = this.#opts;
    const cred = await edgeCredential(req, socket, tokens, 'media publishing', metrics);
    if (!cred) return;
    if (!media.available) {
      return refuseUpgrade(socket, 503, 'MEDIA_UNAVAILABLE', `live video is off: ${media.unavailableReason}`);
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#serve(ws, cred.edgeId));
  }

  #serve(ws: WebSocket, edgeId: string): void {
    const { media } = this.#opts;
    /** This connection: it owns the streams it publishes. */
    const owner = {};
    let open = true;
    const send = (msg: HubToEdgeMediaMessage) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
    };
    const fail = (code: string, message: string, streamId?: string) =>
      send({ t: 'error', code, message, ...(streamId ? { streamId } : {}) });
    this.#log.info({ edge: edgeId }, 'edge media signalling connected');

    ws.on('message', (data, isBinary) => {
      const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : (data as Buffer).byteLength;
      if (isBinary) return fail('BAD_MESSAGE', 'messages are JSON text frames');
      if (size > MAX_MESSAGE_BYTES) {
        return fail('BAD_MESSAGE', `message of ${size} bytes is larger than ${MAX_MESSAGE_BYTES}`);
      }
      let raw: unknown;
      try {
        raw = JSON.parse(String(data));
      } catch {
        return fail('BAD_MESSAGE', 'not JSON');
      }
      const parsed = EdgeMediaMessageSchema.safeParse(raw);
      const rawStream = (raw as { streamId?: unknown } | null)?.streamId;
      const streamHint = typeof rawStream === 'string' && ID_PATTERN.test(rawStream) ? rawStream : undefined;
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        return fail('BAD_MESSAGE', `${issue.path.join('.') || '(message)'}: ${issue.message}`, streamHint);
      }
      const msg = parsed.data;
      if (msg.t === 'publish') {
        media
          .publish(edgeId, msg.streamId, msg.sdp, msg.video, owner)
          .then(async (sdp) => {
            // The socket closed while the publish ran: the stream must not outlive it.
            if (!open) return void (await media.unpublish(edgeId, msg.streamId, owner));
            send({ t: 'answer', streamId: msg.streamId, sdp });
          })
          .catch((err) => {
            const code = err instanceof SdpError || err instanceof MediaError ? err.code : 'INTERNAL';
            if (code === 'INTERNAL')
              this.#log.warn({ edge: edgeId, err: describeError(err) }, 'publish failed');
            fail(code, describeError(err), msg.streamId);
          });
      } else {
        media.unpublish(edgeId, msg.streamId, owner).catch((err) => {
          this.#log.warn({ edge: edgeId, err: describeError(err) }, 'unpublish failed');
        });
      }
    });
    ws.on('close', () => {
      open = false;
      this.#log.info({ edge: edgeId }, 'edge media signalling closed');
      media.closeOwner(owner).catch(() => {});
    });
    ws.on('error', (err) =>
      this.#log.warn({ edge: edgeId, err: describeError(err) }, 'edge media socket error'),
    );
  }

  /** Closes every edge socket (their streams end) and stops accepting. */
  async close(): Promise<void> {
    this.#unregister();
    for (const ws of this.#wss.clients) ws.close(1001, 'hub shutting down');
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    for (const ws of this.#wss.clients) ws.terminate();
  }
}
