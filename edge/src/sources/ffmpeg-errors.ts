/** Map FFmpeg error codes and messages to SourceError codes with messages that name the input. */
import type { ErrorInfo } from './protocol.ts';
import { authRefused } from './rtsp-probe.ts';

// FFmpeg error codes are negative errno values or FFERRTAG tags.
const tag = (a: number, b: string, c: string, d: string) =>
  -(a | (b.charCodeAt(0) << 8) | (c.charCodeAt(0) << 16) | (d.charCodeAt(0) << 24));
const ENOENT = -2;
const EIO = -5;
const EACCES = -13;
const EISDIR = -21;
const INVALIDDATA = tag('I'.charCodeAt(0), 'N', 'D', 'A');
const HTTP_NOT_FOUND = tag(0xf8, '4', '0', '4');
const HTTP_UNAUTHORIZED = tag(0xf8, '4', '0', '1');
const HTTP_FORBIDDEN = tag(0xf8, '4', '0', '3');
const DECODER_NOT_FOUND = tag(0xf8, 'D', 'E', 'C');
const PROTOCOL_NOT_FOUND = tag(0xf8, 'P', 'R', 'O');

/** Hide the password of any URL in FFmpeg's text (it may quote the input). */
function redactText(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^/@:?#\s]*):[^/?#\s]*@/gi, '$1:***@');
}

/**
 * Classify an error from opening `display`. Files fail as SOURCE_INVALID; connection problems are
 * SOURCE_UNREACHABLE. `rtsp`: an RTSP source, whose refused credentials get their own message and whose
 * "Invalid data" (FFmpeg's answer to a silent, non-RTSP or hung-up server alike) is marked for diagnosis.
 */
export function classifyOpenError(
  code: number | undefined,
  detail: string,
  display: string,
  network: boolean,
  rtsp = false,
): ErrorInfo {
  const d = redactText(detail.replace(/^Failed to open input: /, ''));
  if (rtsp && (code === HTTP_UNAUTHORIZED || /\b401\b|unauthori[sz]ed/i.test(d))) return authRefused(display);
  if (rtsp && (code === INVALIDDATA || /invalid data/i.test(d))) {
    return {
      code: 'SOURCE_UNREACHABLE',
      message: `${display}: no usable RTSP answer (${d})`,
      diagnose: { rtsp: true, detail: d },
    };
  }
  if (code === ENOENT || /no such file/i.test(d)) {
    return { code: network ? 'SOURCE_UNREACHABLE' : 'SOURCE_INVALID', message: `No such file: ${display}` };
  }
  if (code === EISDIR || /is a directory/i.test(d)) {
    return { code: 'SOURCE_INVALID', message: `${display} is a directory, not a media file` };
  }
  if (code === EACCES || /permission denied/i.test(d)) {
    return { code: 'SOURCE_INVALID', message: `Permission denied: ${display}` };
  }
  if (code === INVALIDDATA || /invalid data/i.test(d)) {
    return { code: 'SOURCE_INVALID', message: `${display} is not a media file FFmpeg can read (${d})` };
  }
  if (
    code === HTTP_NOT_FOUND ||
    code === HTTP_UNAUTHORIZED ||
    code === HTTP_FORBIDDEN ||
    code === PROTOCOL_NOT_FOUND
  ) {
    return { code: 'SOURCE_INVALID', message: `Cannot open ${display}: ${d}` };
  }
  if (code === DECODER_NOT_FOUND)
    return { code: 'DECODE_FAILED', message: `No decoder for ${display}: ${d}` };
  if (network || code === EIO)
    return { code: 'SOURCE_UNREACHABLE', message: `Cannot reach ${display}: ${d}` };
  return { code: 'SOURCE_INVALID', message: `Cannot open ${display}: ${d}` };
}

/** Pull the numeric FFmpeg code out of a thrown FFmpegError (or undefined). */
export function ffmpegCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}
