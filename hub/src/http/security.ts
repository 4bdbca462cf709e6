/**
 * Security headers and CORS of the hub's HTTP application (docs/operations.md, "Browser security").
 *
 * Every response (the status page, /viewer, the API documents, JSON, errors, 404s) carries nosniff,
 * Referrer-Policy no-referrer (the viewer puts its token in thumbnail URLs), X-Frame-Options DENY with CSP
 * frame-ancestors 'none', Cross-Origin-Opener-Policy and Cross-Origin-Resource-Policy same-origin, and a
 * Content-Security-Policy that the hub's own pages work under: scripts and styles from the hub itself or inline
 * with the per-request nonce (the status page and the API docs page), images from the hub or data:/blob:, media
 * from blob:/mediastream:, fetch and WebSocket signalling to the hub's own origin only ('self' covers ws:/wss: of
 * the same host and port). No 'unsafe-inline', no 'unsafe-eval'. HSTS: server.ts adds it when the hub serves TLS
 * itself; behind a TLS proxy it is the proxy's.
 *
 * CORS is off unless origins are configured: without them no Access-Control-Allow-Origin is ever sent, so a
 * browser refuses cross-origin reads and preflights.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { NONCE, secureHeaders } from 'hono/secure-headers';

/** The Content-Security-Policy directives (hono's names); NONCE becomes this request's nonce. */
export const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'", NONCE],
  styleSrc: ["'self'", NONCE],
  imgSrc: ["'self'", 'data:', 'blob:'],
  mediaSrc: ["'self'", 'blob:', 'mediastream:'],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

/** The security headers middleware: the same headers on every response, with a fresh CSP nonce per request. */
export function securityHeaders(): MiddlewareHandler {
  return secureHeaders({
    contentSecurityPolicy: CONTENT_SECURITY_POLICY,
    xContentTypeOptions: 'nosniff',
    xFrameOptions: 'DENY',
    referrerPolicy: 'no-referrer',
    crossOriginOpenerPolicy: 'same-origin',
    crossOriginResourcePolicy: 'same-origin',
    // Sent over plain HTTP it means nothing; behind TLS it is the proxy's call (and includeSubDomains is not ours).
    strictTransportSecurity: false,
    // The hub's pages only watch video: no camera, microphone, location and the like.
    permissionsPolicy: { camera: [], microphone: [], geolocation: [], payment: [], usb: [] },
  });
}

/** The nonce that the CSP of this request allows on inline <script> and <style> elements. */
export function cspNonce(c: Context): string {
  const nonce = (c as Context<{ Variables: { secureHeadersNonce?: string } }>).get('secureHeadersNonce');
  if (!nonce) throw new TypeError('cspNonce: the securityHeaders middleware did not run for this request');
  return nonce;
}

/**
 * Checks and normalises the allowed CORS origins: each an origin (`https://host[:port]`, no path), no `*`.
 * Throws a RangeError naming a bad one.
 */
export function parseCorsOrigins(origins: readonly string[]): string[] {
  const out: string[] = [];
  for (const raw of origins) {
    const value = raw.trim();
    if (!value) continue;
    let origin: string | undefined;
    try {
      const url = new URL(value);
      if ((url.protocol === 'http:' || url.protocol === 'https:') && value.replace(/\/$/, '') === url.origin)
        origin = url.origin;
    } catch {
      origin = undefined;
    }
    if (!origin) {
      throw new RangeError(
        `Expected a CORS origin like https://dashboard.example.com (scheme, host and port, no path, no *) but received ${JSON.stringify(raw)}`,
      );
    }
    if (!out.includes(origin)) out.push(origin);
  }
  return out;
}

/** The allowed origins from $SIGHTLINE_CORS_ORIGINS (comma or space separated); none when unset. */
export function corsOriginsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return parseCorsOrigins((env.SIGHTLINE_CORS_ORIGINS ?? '').split(/[\s,]+/));
}

/**
 * CORS for the allowed origins, or undefined (no middleware at all: no CORS headers) when there are none. An
 * allowed origin may send bearer-token requests (no cookies: credentials stay off) and read the API's answers.
 */
export function corsPolicy(origins: readonly string[] | undefined): MiddlewareHandler | undefined {
  const allowed = parseCorsOrigins(origins ?? []);
  if (allowed.length === 0) return undefined;
  const approve = cors({
    origin: allowed,
    allowMethods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowHeaders: ['authorization', 'content-type', 'if-match'],
    exposeHeaders: ['location', 'retry-after', 'www-authenticate', 'etag'],
    maxAge: 600,
  });
  // Another origin gets nothing CORS at all (a preflight falls through to the 404 of an unknown route).
  return async (c, next) => {
    if (allowed.includes(c.req.header('origin') ?? '')) return approve(c, next);
    await next();
    c.header('Vary', 'Origin', { append: true });
  };
}
