/** JSON errors with stable codes, and the validation hook that turns zod issues into them. */
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** Every error body: `{ error: { code, message, issues? } }`. */
export const ApiErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'VALIDATION_FAILED' }),
      message: z.string().openapi({ example: 'body.k: Too big: expected number to be <=1000' }),
      issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    }),
  })
  .openapi('Error');

/** An HTTPException whose response is the JSON error body. */
export function apiError(
  status: ContentfulStatusCode,
  code: string,
  message: string,
  headers?: Record<string, string>,
): HTTPException {
  return new HTTPException(status, {
    res: Response.json({ error: { code, message } }, { status, headers }),
  });
}

/** Codes for the statuses hono's own middleware raises without one. */
const STATUS_CODES: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
};

/** The error response for anything thrown in a handler. */
export function errorResponse(err: Error, c: Context): Response {
  if (err instanceof HTTPException) {
    if (err.res) return err.getResponse();
    const status = err.status;
    return c.json({ error: { code: STATUS_CODES[status] ?? 'ERROR', message: err.message } }, status);
  }
  return c.json({ error: { code: 'INTERNAL', message: err.message } }, 500);
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
    400,
  );
}
