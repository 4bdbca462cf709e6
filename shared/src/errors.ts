/** Errors with stable codes: codes cross the wire and appear in logs, messages are for people. */

/**
 * Every code a Sightline error can carry: the catalogue. Codes cross the wire (HTTP and WebSocket error bodies, the
 * uplink, WHIP) and appear in logs and on the CLI's stderr, so a code once used keeps its spelling.
 */
export const ERROR_CODES = [
  'CONFIG_INVALID',
  'SOURCE_INVALID',
  'SOURCE_UNREACHABLE',
  'SOURCE_REFUSED',
  'SOURCE_ENDED',
  'DECODE_FAILED',
  'ENCODE_FAILED',
  'MODEL_MISSING',
  'MODEL_CHECKSUM',
  'MODEL_UNKNOWN',
  'MODEL_INVALID',
  'FETCH_FAILED',
  'PROVIDER_UNAVAILABLE',
  'INFERENCE_FAILED',
  'INFERENCE_TIMEOUT',
  'CLOSED',
  'STREAM_UNKNOWN',
  'CONFIG_RESTART_REQUIRED',
  'FORMAT_INVALID',
  'SINK_FAILED',
  'INDEX_INVALID',
  'STORE_UNAVAILABLE',
  'STORE_URL_INVALID',
  'BATCH_INVALID',
  'THUMBNAIL_INVALID',
  'EMBEDDING_INVALID',
  // Requests refused by the hub's REST API, its WebSockets and the edge's WHIP server (docs/api.md: the hub maps
  // each to one HTTP status in hub/src/api/error-status.ts).
  'BAD_REQUEST',
  'VALIDATION_FAILED',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'RATE_LIMITED',
  'INTERNAL',
  'BAD_PATH',
  'BODY_TOO_LARGE',
  'BAD_MESSAGE',
  // Enrollment and the edge's credential.
  'ENROLLMENT_USED',
  'HUB_UNREACHABLE',
  'HUB_CERT_REFUSED',
  'BAD_RESPONSE',
  'CREDENTIAL_INVALID',
  // Fleet commands (hub -> edge) and the uplink's error messages.
  'EDGE_UNKNOWN',
  'EDGE_OFFLINE',
  'EDGE_TIMEOUT',
  'COMMAND_INVALID',
  'COMMAND_FAILED',
  'HUB_CLOSING',
  'BAD_FRAME',
  'NO_HELLO',
  'PROTOCOL',
  'EDGE_MISMATCH',
  'HELLO_SANITIZED',
  'STORE_FAILED',
  // Live video: the hub's media API, signalling sockets and WHEP; the edge's publisher and WHIP server.
  'MEDIA_UNAVAILABLE',
  'MEDIA_WORKER_FAILED',
  'SESSION_UNKNOWN',
  'SDP_INVALID',
  'CODEC_UNSUPPORTED',
  'H264_INVALID',
  'PUBLISH_FAILED',
  'STREAM_BUSY',
  'STREAM_FAILED',
  'TOO_MANY_SESSIONS',
  'CLOSING',
  'STREAM_ID_INVALID',
  'RTP_PORTS_EXHAUSTED',
  'STREAM_ELSEWHERE',
  // The overflow path (overflow.ts): edges, hub, workers.
  'OVERFLOW_SHED',
  'OVERFLOW_UNAVAILABLE',
  'OVERFLOW_EXPIRED',
  'OVERFLOW_FAILED',
  'OVERFLOW_LATE',
  'OVERFLOW_UNSUPPORTED',
  'REDIS_UNAVAILABLE',
  // The command line.
  'USAGE_INVALID',
  // Starting up: the hub's port is taken, a file of its install is missing.
  'PORT_IN_USE',
  'ASSET_MISSING',
] as const;

/** One code of the catalogue ({@link ERROR_CODES}). */
export type ErrorCode = (typeof ERROR_CODES)[number];

const KNOWN_CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/** Whether `code` (e.g. read off the wire) is in the catalogue. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && KNOWN_CODES.has(code);
}

/** Base class: a message for people plus a stable `code`. */
export class SightlineError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** A config file or field is wrong; `issues` lists each bad field with its path. */
export class ConfigError extends SightlineError {
  readonly issues: readonly string[];
  constructor(message: string, issues: readonly string[] = []) {
    super('CONFIG_INVALID', issues.length ? `${message}\n  - ${issues.join('\n  - ')}` : message);
    this.issues = issues;
  }
}

/** A stream source cannot be opened, is not media, or went away. */
export class SourceError extends SightlineError {}

/** A model file is missing, corrupt, unknown or unusable. */
export class ModelError extends SightlineError {}

/** Inference failed or no execution provider could be loaded. */
export class InferenceError extends SightlineError {}

/** A text or binary input (e.g. a MOTChallenge file) is malformed; the message names the file and line. */
export class FormatError extends SightlineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('FORMAT_INVALID', message, options);
  }
}

/** A result sink cannot open or write its output; the message names the path. */
export class SinkError extends SightlineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SINK_FAILED', message, options);
  }
}

/** The hub's metadata store cannot be opened: a malformed or unreachable database URL, an unwritable data dir. */
export class StoreError extends SightlineError {}

/** An embedding index or its input is unusable (wrong dimensions, non-finite values, bad file). */
export class IndexError extends SightlineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INDEX_INVALID', message, options);
  }
}

/** An operation was attempted on a closed resource. */
export class ClosedError extends SightlineError {
  constructor(what: string) {
    super('CLOSED', `${what} is closed`);
  }
}

/** Text for any thrown value, keeping the code when there is one. */
export function describeError(err: unknown): string {
  if (err instanceof SightlineError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
