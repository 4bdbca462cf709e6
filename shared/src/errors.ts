/** Errors with stable codes: codes cross the wire and appear in logs, messages are for people. */

/** Every code a Sightline error can carry. */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'SOURCE_INVALID'
  | 'SOURCE_UNREACHABLE'
  | 'SOURCE_REFUSED'
  | 'SOURCE_ENDED'
  | 'DECODE_FAILED'
  | 'MODEL_MISSING'
  | 'MODEL_CHECKSUM'
  | 'MODEL_UNKNOWN'
  | 'MODEL_INVALID'
  | 'FETCH_FAILED'
  | 'PROVIDER_UNAVAILABLE'
  | 'INFERENCE_FAILED'
  | 'INFERENCE_TIMEOUT'
  | 'CLOSED'
  | 'STREAM_UNKNOWN'
  | 'CONFIG_RESTART_REQUIRED'
  | 'FORMAT_INVALID'
  | 'SINK_FAILED'
  | 'INDEX_INVALID'
  | 'STORE_UNAVAILABLE'
  | 'STORE_URL_INVALID'
  | 'BATCH_INVALID'
  | 'THUMBNAIL_INVALID'
  | 'EMBEDDING_INVALID';

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
