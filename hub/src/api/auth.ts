/** Bearer-token authentication, role checks and per-token rate limiting for the REST API. */
import type { Context, MiddlewareHandler } from 'hono';
import type { Counter } from 'prom-client';
import type { Limiter } from '../auth/rate-limiter.ts';
import type { TokenInfo, TokenService } from '../auth/token-service.ts';
import type { TokenRole } from '../store/schema.ts';
import { apiError } from './errors.ts';

/** What handlers see in `c.var.auth` after authentication. */
export type AuthVariables = { auth: TokenInfo };
export type AuthEnv = { Variables: AuthVariables };

/** People's roles in increasing power; `edge` and `enroll` tokens are machine credentials outside this order. */
const RANK: Partial<Record<TokenRole, number>> = { viewer: 1, operator: 2, admin: 3 };

/** Whether `held` satisfies `required` (a person's role at or above it, or exactly the machine role). */
export function roleAllows(held: TokenRole, required: TokenRole): boolean {
  const need = RANK[required];
  if (need === undefined) return held === required;
  return (RANK[held] ?? 0) >= need;
}

/** The bearer token of a request (header, or `?access_token=` for clients that cannot set headers). */
export function bearerToken(c: Context): string | undefined {
  const header = c.req.header('authorization');
  if (header) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return m ? m[1] : '';
  }
  return c.req.query('access_token') ?? undefined;
}

export interface AuthDeps {
  tokens: TokenService;
  limiter: Limiter;
  /** Counts refusals by reason (optional). */
  refused?: Counter<'reason'>;
}

/**
 * Requires a valid token holding `role`: 401 UNAUTHORIZED without one or with one that is malformed, unknown,
 * revoked or expired; 403 FORBIDDEN when its role is too weak; 429 RATE_LIMITED (with Retry-After) beyond the
 * token's rate. Refused credentials are rate-limited per client address, so guessing is slow too.
 */
export function requireRole(deps: AuthDeps, role: TokenRole): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const token = bearerToken(c);
    if (!token) {
      deps.refused?.inc({ reason: 'missing' });
      throw apiError('UNAUTHORIZED', 'this route needs a token: send Authorization: Bearer <token>', {
        'www-authenticate': 'Bearer',
      });
    }
    const verdict = await deps.tokens.verify(token);
    if (typeof verdict === 'string') {
      deps.refused?.inc({ reason: verdict });
      const wait = await deps.limiter.take(`addr:${clientAddress(c)}`);
      if (wait) throw rateLimited(wait);
      throw apiError('UNAUTHORIZED', `token refused (${verdict})`, { 'www-authenticate': 'Bearer' });
    }
    const wait = await deps.limiter.take(`token:${verdict.id}`);
    if (wait) {
      deps.refused?.inc({ reason: 'rate' });
      throw rateLimited(wait);
    }
    if (!roleAllows(verdict.role, role)) {
      deps.refused?.inc({ reason: 'role' });
      throw apiError('FORBIDDEN', `this route needs the ${role} role; the token has ${verdict.role}`);
    }
    c.set('auth', verdict);
    await next();
  };
}

function rateLimited(waitSec: number) {
  return apiError('RATE_LIMITED', `too many requests; retry in ${waitSec} s`, {
    'retry-after': String(waitSec),
  });
}

function clientAddress(c: Context): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? 'local';
}
