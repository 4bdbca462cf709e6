/** JSON errors with stable codes, and the validation hook that turns zod issues into them. */
import { randomUUID } from 'node:crypto';
import { z } from '@hono/zod-openapi';
import { childLogger, describeError, SightlineError } from '@sightline/shared';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { isStoreUnavailable, storeErrorReason } from '../store/store-errors.ts';
import { codeOfStatus, type HttpErrorCode, httpStatusOf } from './error-status.ts';

/** Every error body: `{ error: { code, message, issues? } }`. */
export const ApiErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'VALIDATION_FAILED' }),
      message: z.string().openapi({ example: 'body.k: Too big: expected number to be <=1000' }),
      issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
      requestId: z
        .string()
        .optional()
        .openapi({ description: 'on 500 and 503: the id under which the hub logged the failure' }),
    }),
  })
  .openapi('Error');

/**
 * An HTTPException whose response is the JSON error body with `status`. Routes use {@link apiError}; this is for
 * the one answer whose code is not the hub's own (an edge's refusal of a command, passed on as 422).
 */
export function jsonError(
  status: ContentfulStatusCode,
  code: string,
  message: string,
  headers?: Record<string, string>,
): HTTPException {
  return new HTTPException(status, {
    res: Response.json({ error: { code, message } }, { status, headers }),
  });
}

/** An HTTPException whose response is the JSON error body, with the code's status (httpStatusOf). */
export function apiError(
  code: HttpErrorCode,
  message: string,
  headers?: Record<string, string>,
): HTTPException {
  return jsonError(httpStatusOf(code), code, message, headers);
}

/** Seconds a client should wait before retrying a request that met a store outage (the Retry-After header). */
export const STORE_RETRY_AFTER_SECONDS = 5;

const log = childLogger('api');

/** A caller's X-Request-Id when it is a plain token, else a fresh id. */
function requestId(c: Context): string {
  const given = c.req.header('x-request-id');
  return given && /^[A-Za-z0-9._:-]{1,64}$/.test(given) ? given : randomUUID();
}

/**
 * The error response for anything thrown in a handler. A store outage (database unreachable, connection cut, pool
 * exhausted) is 503 STORE_UNAVAILABLE with Retry-After; a SightlineError whose code has an HTTP status
 * (error-status.ts: a service's EDGE_OFFLINE, NOT_FOUND, VALIDATION_FAILED...) is that status with its code and
 * message; anything else is 500 INTERNAL whose body holds only the code, a fixed message and a request id: the
 * error itself (SQL text, query parameters, stack) goes to the hub's log under that id, never into a response.
 */
export function errorResponse(err: Error, c: Context): Response {
  if (err instanceof HTTPException) {
    if (err.res) return err.getResponse();
    const status = err.status;
    return c.json({ error: { code: codeOfStatus(status), message: err.message } }, status);
  }
  const id = requestId(c);
  const where = { requestId: id, method: c.req.method, path: c.req.path };
  if (isStoreUnavailable(err)) {
    log.warn({ ...where, err: storeErrorReason(err) }, 'request failed: store unavailable');
    return c.json(
      {
        error: {
          code: 'STORE_UNAVAILABLE' satisfies HttpErrorCode,
          message: `the hub's database is unavailable; retry in ${STORE_RETRY_AFTER_SECONDS} s`,
          requestId: id,
        },
      },
      httpStatusOf('STORE_UNAVAILABLE'),
      { 'retry-after': String(STORE_RETRY_AFTER_SECONDS), 'x-request-id': id },
    );
  }
  const status =
    err instanceof SightlineError && err.code !== 'INTERNAL' ? httpStatusOf(err.code) : undefined;
  if (status !== undefined) {
    return c.json({ error: { code: (err as SightlineError).code, message: err.message } }, status);
  }
  log.error({ ...where, err: describeError(err), stack: err?.stack }, 'request failed: internal error');
  return c.json(
    { error: { code: 'INTERNAL', message: 'internal error', requestId: id } },
    httpStatusOf('INTERNAL'),
    {
      'x-request-id': id,
    },
  );
}

/** `target.path.to.field` for one zod issue. */
function issuePath(target: string, path: readonly PropertyKey[]): string {
  return [target === 'json' ? 'body' : target, ...path.map(String)].join('.');
}

/** zod-openapi's defaultHook: a failed validation becomes 400 VALIDATION_FAILED naming each field. */
export function validationHook(
  result: { success: true } | { success: false; error: z.ZodError; target: string },
  c: Context,
): Response | undefined {
  if (result.success) return undefined;
  const issues = result.error.issues.map((i) => ({
    path: issuePath(result.target, i.path),
    message: i.code === 'unrecognized_keys' ? `unknown field(s) ${i.keys.join(', ')}` : i.message,
  }));
  const first = issues[0]!;
  return c.json(
    { error: { code: 'VALIDATION_FAILED', message: `${first.path}: ${first.message}`, issues } },
    httpStatusOf('VALIDATION_FAILED'),
  );
}
