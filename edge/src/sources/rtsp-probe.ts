/**
 * Why an RTSP open failed when FFmpeg only says "Invalid data": ask the server once (an OPTIONS request without
 * credentials, over TLS for rtsps) and put what it did into words: no answer, not RTSP, refused, closed.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { ErrorInfo } from './protocol.ts';

/** What an RTSP server did with one OPTIONS request. */
export type RtspAnswer =
  /** The connection failed (refused, no route, unknown host); `reason` is the system's message. */
  | { kind: 'unreachable'; reason: string }
  /** Connected (or still connecting) and got no byte back within the wait. */
  | { kind: 'silent' }
  /** Connected, and the server closed the connection without sending anything. */
  | { kind: 'closed' }
  /** An RTSP status line. */
  | { kind: 'rtsp'; status: number; reason: string }
  /** Something else: `firstLine` is the start of the answer, printable ASCII only, at most 60 characters. */
  | { kind: 'other'; firstLine: string };

const STATUS_LINE = /^RTSP\/\d\.\d (\d{3}) ?([^\r\n]*)/;

/** The first line of `data` as printable ASCII, at most 60 characters. */
function firstLine(data: Buffer): string {
  const line = data.toString('latin1').split(/\r?\n/, 1)[0] ?? '';
  return line.slice(0, 60).replace(/[^\x20-\x7e]/g, '?');
}

/** Send one OPTIONS request to the RTSP server of `url` and report what came back within `timeoutMs`. */
export function askRtsp(url: string, timeoutMs: number): Promise<RtspAnswer> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.resolve({ kind: 'unreachable', reason: 'invalid URL' });
  }
  const tls = target.protocol === 'rtsps:';
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(target.port) || (tls ? 322 : 554);
  // The request names the URL without its credentials, and sends none.
  const request = `OPTIONS ${target.protocol}//${target.host}${target.pathname}${target.search} RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: Sightline\r\n\r\n`;
  return new Promise((resolve) => {
    let got = Buffer.alloc(0);
    let settled = false;
    const socket: Socket = tls
      ? tlsConnect({ host, port, servername: host, rejectUnauthorized: false })
      : netConnect({ host, port });
    const done = (answer: RtspAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(got.length ? answerOf(got) : { kind: 'silent' }), timeoutMs);
    socket.once(tls ? 'secureConnect' : 'connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.includes('\n') || got.length >= 1024) done(answerOf(got));
    });
    socket.once('end', () => done(got.length ? answerOf(got) : { kind: 'closed' }));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (got.length) return done(answerOf(got));
      // Reset after the connection was made: the server hung up without answering.
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return done({ kind: 'closed' });
      done({ kind: 'unreachable', reason: err.code ?? err.message });
    });
  });
}

function answerOf(data: Buffer): RtspAnswer {
  const line = firstLine(data);
  const m = STATUS_LINE.exec(line);
  return m
    ? { kind: 'rtsp', status: Number(m[1]), reason: m[2]!.trim() }
    : { kind: 'other', firstLine: line };
}

/** Seconds for a message: "5", "2.5". */
export function seconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}

/** The source `display` names user info (rtsp://user:***@host/...). */
export function hasCredentials(display: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(display);
}

/** The message for an RTSP server that refused the credentials (or wants some): never shows the password. */
export function authRefused(display: string): ErrorInfo {
  return {
    code: 'SOURCE_INVALID',
    message: hasCredentials(display)
      ? `${display}: the RTSP server refused the user name or password (401 Unauthorized)`
      : `${display}: the RTSP server wants a user name and password (401 Unauthorized); give them in the URL, rtsp://user:password@host/...`,
  };
}

/** A no-answer message: `display` sent nothing within `ms`. */
export function noAnswer(display: string, ms: number): ErrorInfo {
  return {
    code: 'SOURCE_UNREACHABLE',
    message: `${display}: no answer within ${seconds(ms)} s (the RTSP server accepted the connection but did not reply)`,
  };
}

/**
 * Put an RTSP server's answer into words. `waitedMs`: how long it was given; `detail`: what FFmpeg said, for a
 * server that answers RTSP but still could not be read.
 */
export function explainRtspAnswer(
  answer: RtspAnswer,
  display: string,
  waitedMs: number,
  detail: string,
): ErrorInfo {
  switch (answer.kind) {
    case 'unreachable':
      return { code: 'SOURCE_UNREACHABLE', message: `Cannot reach ${display}: ${answer.reason}` };
    case 'silent':
      return noAnswer(display, waitedMs);
    case 'closed':
      return {
        code: 'SOURCE_UNREACHABLE',
        message: `${display}: the server closed the connection without an RTSP answer`,
      };
    case 'other': {
      const line = answer.firstLine;
      const said = line.startsWith('HTTP/') ? `it answered with HTTP ("${line}")` : `it answered "${line}"`;
      return { code: 'SOURCE_INVALID', message: `${display} is not an RTSP server: ${said}` };
    }
    case 'rtsp': {
      if (answer.status === 401) return authRefused(display);
      const status = `${answer.status}${answer.reason ? ` ${answer.reason}` : ''}`;
      if (answer.status >= 200 && answer.status < 300) {
        return {
          code: 'SOURCE_INVALID',
          message: `${display}: the RTSP server answers, but its stream could not be read (${detail})`,
        };
      }
      return {
        code: answer.status >= 500 ? 'SOURCE_UNREACHABLE' : 'SOURCE_INVALID',
        message: `${display}: the RTSP server answered ${status}`,
      };
    }
  }
}

/**
 * What went wrong with an RTSP open that FFmpeg failed with a bare "Invalid data" (`info.diagnose`), after
 * `elapsedMs`: an attempt that lasted the whole open timeout met a server that stopped answering; a quicker
 * failure is explained by asking the server once (askRtsp, at most 5 s).
 */
export async function explainRtspOpen(
  info: ErrorInfo,
  req: { input: string; display: string; openTimeoutMs: number },
  elapsedMs: number,
): Promise<ErrorInfo> {
  if (elapsedMs >= req.openTimeoutMs * 0.9) return noAnswer(req.display, req.openTimeoutMs);
  const waitMs = Math.min(req.openTimeoutMs, 5000);
  const answer = await askRtsp(req.input, waitMs);
  return explainRtspAnswer(answer, req.display, waitMs, info.diagnose?.detail ?? info.message);
}
