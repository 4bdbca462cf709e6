/**
 * The one map from error codes to HTTP statuses: every JSON error the hub answers with takes its status from here,
 * whether a route refuses a request (apiError) or a service throws a SightlineError that reaches the error handler.
 * A code without a status here is not a caller's problem: the handler answers it as 500 INTERNAL (docs/api.md).
 */
import type { ErrorCode } from '@sightline/shared';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

const STATUS = {
  BAD_REQUEST: 400,
  VALIDATION_FAILED: 400,
  SDP_INVALID: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  EDGE_UNKNOWN: 404,
  STREAM_UNKNOWN: 404,
  SESSION_UNKNOWN: 404,
  EDGE_OFFLINE: 409,
  ENROLLMENT_USED: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  MEDIA_UNAVAILABLE: 503,
  STORE_UNAVAILABLE: 503,
  EDGE_TIMEOUT: 504,
} as const satisfies Partial<Record<ErrorCode, ContentfulStatusCode>>;

/** A code the hub answers HTTP requests with. */
export type HttpErrorCode = keyof typeof STATUS;

/** The HTTP status of an error code; undefined for a code that is no caller's fault (answered 500 INTERNAL). */
export function httpStatusOf(code: HttpErrorCode): ContentfulStatusCode;
export function httpStatusOf(code: ErrorCode): ContentfulStatusCode | undefined;
export function httpStatusOf(code: ErrorCode): ContentfulStatusCode | undefined {
  return Object.hasOwn(STATUS, code) ? STATUS[code as HttpErrorCode] : undefined;
}

/** Codes for the statuses hono's own middleware raises without one (an HTTPException with no response). */
const CODE_OF_STATUS: Partial<Record<number, HttpErrorCode>> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
};

/** The code of a bare HTTP status; `ERROR` for one no code stands for. */
export function codeOfStatus(status: number): HttpErrorCode | 'ERROR' {
  return CODE_OF_STATUS[status] ?? 'ERROR';
}
