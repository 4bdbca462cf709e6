/** The HTTP side of the WHIP server: errors with a status, CORS headers, bearer token check, bounded bodies. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** A refused request: its status, a stable code, the message and extra headers (Allow, Retry-After...). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
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
