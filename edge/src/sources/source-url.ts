/** Classify a stream source string (path, file://, rtsp(s)://, http(s)://, whip://) into what FFmpeg opens. */
import { fileURLToPath } from 'node:url';
import { ID_PATTERN, SourceError, type SourceScheme } from '@sightline/shared';
import { WHIP_INPUT_OPTIONS, whipInputPath } from './whip-inputs.ts';

/**
 * file: local path; rtsp: always-live camera; http: a remote file or stream fetched over HTTP(S); whip: a camera
 * published to this edge's WHIP server (always live; its RTP arrives on a local UDP port described by an SDP).
 */
export type SourceKind = 'file' | 'rtsp' | 'http' | 'whip';

export interface ParsedSource {
  kind: SourceKind;
  /** The scheme as written, lower case ("file" for a plain path); what sources.schemes allows or refuses. */
  scheme: SourceScheme;
  /** What FFmpeg opens: an absolute-or-relative path for files, the URL otherwise. */
  input: string;
  /** The source for logs and errors, with any password replaced by ***. */
  display: string;
  /** Reached over the network (reconnects on failure). */
  network: boolean;
  /** Extra FFmpeg input options (whip: the SDP demuxer's protocol whitelist and buffers). */
  options?: Record<string, string | number>;
}

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/** The scheme of a source string, lower case: "file" for a plain path, whatever precedes :// otherwise. */
export function sourceScheme(url: string): string {
  return SCHEME.exec(url)?.[1]?.toLowerCase() ?? 'file';
}

/**
 * Replace the password in a URL with *** for logs and error messages. The user info ends at the last @ before the
 * path (as URL parsers read it), so a password holding a raw @ is hidden whole.
 */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:?#]*):[^/?#]*@/i, '$1:***@');
}

/** Parse a source string; throws SourceError(SOURCE_INVALID) naming the input when it cannot be used. */
export function parseSourceUrl(url: string): ParsedSource {
  if (typeof url !== 'string' || url.trim() === '') {
    throw new TypeError(
      `Expected a non-empty string for url but received ${JSON.stringify(url)} of type ${typeof url}`,
    );
  }
  const display = redactUrl(url);
  const m = SCHEME.exec(url);
  if (!m) return { kind: 'file', scheme: 'file', input: url, display, network: false };
  const scheme = m[1]!.toLowerCase();
  if (scheme === 'whip') return parseWhip(url, display);
  if (scheme === 'file') {
    try {
      return { kind: 'file', scheme: 'file', input: fileURLToPath(url), display, network: false };
    } catch (err) {
      throw new SourceError('SOURCE_INVALID', `Invalid file URL ${display}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  const kind: SourceKind | undefined =
    scheme === 'rtsp' || scheme === 'rtsps'
      ? 'rtsp'
      : scheme === 'http' || scheme === 'https'
        ? 'http'
        : undefined;
  if (!kind) {
    throw new SourceError(
      'SOURCE_INVALID',
      `Unsupported URL scheme "${scheme}:" in ${display}; use a file path, file://, rtsp://, rtsps://, http://, https:// or whip://`,
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new SourceError('SOURCE_INVALID', `Invalid URL ${display}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (!parsed.hostname) throw new SourceError('SOURCE_INVALID', `Invalid URL ${display}: no host`);
  return { kind, scheme: scheme as SourceScheme, input: url, display, network: true };
}

/** whip://<streamId>: the SDP file of the RTP that the live WHIP session for streamId forwards. */
function parseWhip(url: string, display: string): ParsedSource {
  const id = url.slice(url.indexOf('://') + 3);
  if (!ID_PATTERN.test(id)) {
    throw new SourceError(
      'SOURCE_INVALID',
      `Invalid WHIP source ${display}: expected whip://<streamId> (letters, digits, _ . -, max 64)`,
    );
  }
  const input = whipInputPath(id);
  if (input === undefined) {
    throw new SourceError(
      'SOURCE_INVALID',
      `No WHIP session publishes ${display}: publish it with POST /whip/${id} on this edge's WHIP server`,
    );
  }
  return {
    kind: 'whip',
    scheme: 'whip',
    input,
    display,
    network: true,
    options: { ...WHIP_INPUT_OPTIONS },
  };
}
