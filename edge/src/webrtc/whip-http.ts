/**
 * The HTTP side of the WHIP server: routing (POST /whip/<streamId>, DELETE /whip/<streamId>/<sessionId>, CORS
 * preflights), the bearer token check, bounded bodies, offer checks, and errors as JSON with a status and a code.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ErrorCode, ID_PATTERN, type Logger, SightlineError } from '@sightline/shared';
import { checkWhipOffer, type OfferedH264 } from './whip-sdp.ts';

/** A refused WHIP request: its status, a code of the catalogue, the message and extra headers (Allow, Retry-After...). */
export class HttpError extends SightlineError {
  constructor(
    readonly status: number,
    code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(code, message);
  }
}

/** Largest SDP offer accepted (bytes). */
export const MAX_BODY = 256 * 1024;

/** Publishers are often pages of other origins (WHIP clients in a browser): every answer allows them. */
export const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'Location, Link, ETag, Accept-Post',
};

export function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Refuse (401) a request whose `Authorization: Bearer` token does not hash to `tokenHash`; none needed without one. */
export function checkBearer(req: IncomingMessage, tokenHash: Buffer | undefined): void {
  if (!tokenHash) return;
  const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
  if (!m) throw new HttpError(401, 'UNAUTHORIZED', 'missing Authorization: Bearer <token>');
  if (!timingSafeEqual(sha256(m[1]!.trim()), tokenHash)) {
    throw new HttpError(401, 'UNAUTHORIZED', 'wrong WHIP token');
  }
}

/** The request body as text; 413 past `maxBytes`. */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new HttpError(413, 'BODY_TOO_LARGE', `SDP offer over ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** What the WHIP routes do once a request has passed the HTTP checks (the WhipServer). */
export interface WhipHandlers {
  /** Publish `streamId` with a checked offer: the new session's id and the SDP answer, or an HttpError. */
  publish(streamId: string, h264: OfferedH264, offer: string): Promise<{ sessionId: string; answer: string }>;
  /** Whether `sessionId` is a live session of `streamId`. */
  has(streamId: string, sessionId: string): boolean;
  /** End the session (DELETE). */
  end(sessionId: string): Promise<void>;
}

/** The WHIP HTTP handler: routes, checks the token (`tokenHash`, none needed without one), answers errors as JSON. */
export function whipRequestHandler(
  tokenHash: Buffer | undefined,
  handlers: WhipHandlers,
  log: Logger,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
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
      checkBearer(req, tokenHash);
      if (method === 'POST') return await post(req, res, streamId, handlers);
      if (!handlers.has(streamId, sessionId!)) {
        throw new HttpError(404, 'SESSION_UNKNOWN', `no WHIP session ${url.pathname}`);
      }
      if (method === 'PATCH') {
        // Trickle ICE and ICE restarts are not supported: the answer carries every candidate.
        throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'trickle ICE / ICE restart is not supported', {
          Allow: 'DELETE, OPTIONS',
        });
      }
      await handlers.end(sessionId!);
      res.writeHead(200, CORS);
      res.end();
    } catch (err) {
      const e =
        err instanceof HttpError
          ? err
          : new HttpError(500, 'INTERNAL', `WHIP request failed: ${(err as Error).message}`);
      if (e.status >= 500) log.warn({ err: (err as Error).message }, 'WHIP request failed');
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
  };
}

/** POST /whip/<streamId>: check the id, the content type and the offer, publish, answer 201 with the SDP answer. */
async function post(
  req: IncomingMessage,
  res: ServerResponse,
  streamId: string,
  handlers: WhipHandlers,
): Promise<void> {
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
  const { sessionId, answer } = await handlers.publish(streamId, check.h264, check.offer);
  res.writeHead(201, {
    ...CORS,
    'Content-Type': 'application/sdp',
    Location: `/whip/${encodeURIComponent(streamId)}/${sessionId}`,
    ETag: `"${sessionId}"`,
  });
  res.end(answer);
}
