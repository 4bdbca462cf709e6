/** The optional ffmpeg backend: a system ffmpeg subprocess piping rawvideo BGR24, probed first with ffprobe. */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { basename, dirname, join } from 'node:path';
import { nowMs, PTS_CLOCK_HZ } from '@sightline/shared';
import { classifyOpenError } from './ffmpeg-errors.ts';
import { fitInside } from './fit.ts';
import type { Backend, BackendMessage, ErrorInfo, SessionRequest, StreamInfo } from './protocol.ts';

/** ffprobe next to the given ffmpeg ("ffmpeg" -> "ffprobe", "/opt/x/ffmpeg" -> "/opt/x/ffprobe"). */
export function ffprobePathFor(ffmpegPath: string): string {
  const name = basename(ffmpegPath).replace(/ffmpeg/i, 'ffprobe');
  return ffmpegPath.includes('/') || ffmpegPath.includes('\\') ? join(dirname(ffmpegPath), name) : name;
}

function rate(text: unknown): number {
  const [n, d] = String(text ?? '0/0')
    .split('/')
    .map(Number);
  return n && d ? n / d : 0;
}

function inputArgs(req: SessionRequest): string[] {
  if (req.options) return Object.entries(req.options).flatMap(([k, v]) => [`-${k}`, String(v)]);
  const us = String(Math.round(req.openTimeoutMs * 1000));
  if (req.rtsp) return ['-rtsp_transport', 'tcp', '-timeout', us];
  if (req.network) return ['-rw_timeout', us];
  return [];
}

/** Turn ffmpeg/ffprobe stderr into a SourceError description. */
function classifyStderr(stderr: string, req: SessionRequest): ErrorInfo {
  const line = stderr.trim().split('\n').filter(Boolean).pop() ?? 'no error output';
  return classifyOpenError(undefined, line.replace(/^.*?: /, ''), req.display, req.network);
}

/** Describe the first video stream of `req.input` with ffprobe. */
export function probe(
  ffprobe: string,
  req: SessionRequest,
): Promise<Omit<StreamInfo, 'outputWidth' | 'outputHeight'> | ErrorInfo> {
  const args = [
    '-v',
    'error',
    ...inputArgs(req),
    '-select_streams',
    'v:0',
    '-show_streams',
    '-of',
    'json',
    req.input,
  ];
  return new Promise((resolve) => {
    execFile(
      ffprobe,
      args,
      { timeout: req.openTimeoutMs + 5000, maxBuffer: 1 << 20 },
      (err, stdout, stderr) => {
        if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
          resolve({
            code: 'DECODE_FAILED',
            message: `Cannot run ${ffprobe} (is ffmpeg installed? set decoder.ffmpegPath)`,
          });
          return;
        }
        if (err) return resolve(classifyStderr(stderr || err.message, req));
        let s: Record<string, unknown> | undefined;
        try {
          s = (JSON.parse(stdout) as { streams?: Record<string, unknown>[] }).streams?.[0];
        } catch {
          s = undefined;
        }
        if (!s) return resolve({ code: 'SOURCE_INVALID', message: `${req.display} has no video stream` });
        const [num, den] = String(s.time_base ?? '1/90000')
          .split('/')
          .map(Number);
        resolve({
          codec: String(s.codec_name ?? 'unknown'),
          width: Number(s.width),
          height: Number(s.height),
          fps: rate(s.avg_frame_rate) || rate(s.r_frame_rate),
          timeBase: { num: num || 1, den: den || PTS_CLOCK_HZ },
          profile: typeof s.profile === 'string' ? s.profile : undefined,
          level: typeof s.level === 'number' && s.level > 0 ? s.level : undefined,
          extradata: new Uint8Array(0),
          hasBFrames: Number(s.has_b_frames ?? 0) > 0,
          backend: 'ffmpeg',
        });
      },
    );
  });
}

/** Decodes with a system ffmpeg: frames are read from its stdout; pts come from the nominal frame rate. */
export class FfmpegBackend implements Backend {
  readonly #ffmpeg: string;
  readonly #onMessage: (message: BackendMessage) => void;
  #child: ChildProcess | undefined;
  #closed = false;
  #outstanding = 0;
  #window = 0;
  #paused = false;
  /** Counts sessions so a late callback from an old one is ignored. */
  #session = 0;

  constructor(ffmpegPath: string, onMessage: (message: BackendMessage) => void) {
    this.#ffmpeg = ffmpegPath;
    this.#onMessage = onMessage;
  }

  open(req: SessionRequest): void {
    const session = ++this.#session;
    this.#window = req.window;
    void probe(ffprobePathFor(this.#ffmpeg), req).then((probed) => {
      if (this.#closed || session !== this.#session) return;
      if (!('width' in probed)) {
        this.#onMessage({ type: 'done', outcome: 'error', error: probed });
        return;
      }
      this.#start(req, probed, session);
    });
  }

  #start(
    req: SessionRequest,
    probed: Omit<StreamInfo, 'outputWidth' | 'outputHeight'>,
    session: number,
  ): void {
    const out = fitInside(probed, req.fit);
    this.#onMessage({ type: 'info', info: { ...probed, outputWidth: out.width, outputHeight: out.height } });
    const args = ['-hide_banner', '-loglevel', 'error', '-nostdin'];
    if (req.realtime) args.push('-re');
    if (req.loop && !req.network) args.push('-stream_loop', '-1');
    args.push(
      ...inputArgs(req),
      '-threads',
      String(req.threads),
      '-i',
      req.input,
      '-map',
      '0:v:0',
      '-an',
      '-sn',
    );
    if (out.width !== probed.width || out.height !== probed.height) {
      args.push('-vf', `scale=${out.width}:${out.height}:flags=bilinear`);
    }
    args.push('-pix_fmt', 'bgr24', '-f', 'rawvideo', '-fps_mode', 'passthrough', 'pipe:1');
    const child = spawn(this.#ffmpeg, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    const frameBytes = out.width * out.height * 3;
    const ticks = probed.fps > 0 ? Math.round(PTS_CLOCK_HZ / probed.fps) : 3000;
    let index = 0;
    let buf = new Uint8Array(new ArrayBuffer(frameBytes));
    let filled = 0;
    let t0 = performance.now();
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      stderr = (stderr + s).slice(-4000);
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      let at = 0;
      while (at < chunk.length) {
        if (filled === 0) t0 = performance.now();
        const n = Math.min(frameBytes - filled, chunk.length - at);
        buf.set(chunk.subarray(at, at + n), filled);
        filled += n;
        at += n;
        if (filled < frameBytes) break;
        const pixels = buf.buffer as ArrayBuffer;
        this.#outstanding++;
        this.#onMessage({
          type: 'frame',
          pts: index++ * ticks,
          width: out.width,
          height: out.height,
          sourceWidth: probed.width,
          sourceHeight: probed.height,
          capturedAt: nowMs(),
          decodeMs: performance.now() - t0,
          pixels,
        });
        buf = new Uint8Array(new ArrayBuffer(frameBytes));
        filled = 0;
      }
      if (!req.realtime && this.#window > 0 && this.#outstanding >= this.#window && !this.#paused) {
        this.#paused = true;
        child.stdout!.pause();
      }
    });
    child.on('error', (err) => {
      if (this.#child !== child) return;
      this.#child = undefined;
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      this.#onMessage({
        type: 'done',
        outcome: 'error',
        error: {
          code: 'DECODE_FAILED',
          message: missing
            ? `Cannot run ${this.#ffmpeg} (is ffmpeg installed? set decoder.ffmpegPath)`
            : err.message,
        },
      });
    });
    child.on('close', (code, signal) => {
      if (this.#child !== child || session !== this.#session) return;
      this.#child = undefined;
      if (this.#closed) return;
      if (code === 0) this.#onMessage({ type: 'done', outcome: 'eof' });
      else {
        const error = stderr.trim()
          ? classifyStderr(stderr, req)
          : {
              code: 'DECODE_FAILED' as const,
              message: `ffmpeg for ${req.display} exited with ${signal ?? `code ${code}`}`,
            };
        this.#onMessage({ type: 'done', outcome: 'error', error });
      }
    });
  }

  release(count: number): void {
    this.#outstanding = Math.max(0, this.#outstanding - count);
    if (this.#paused && this.#outstanding < this.#window) {
      this.#paused = false;
      this.#child?.stdout?.resume();
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const child = this.#child;
    this.#child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
      child.kill('SIGKILL');
      await exited;
    }
  }
}
