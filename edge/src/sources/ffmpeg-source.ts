/** The optional ffmpeg backend: a system ffmpeg subprocess piping rawvideo BGR24, probed first with ffprobe. */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { basename, dirname, join } from 'node:path';
import { nowMs, PTS_CLOCK_HZ } from '@sightline/shared';
import { classifyOpenError } from './ffmpeg-errors.ts';
import { fitInside } from './fit.ts';
import {
  decoderChoice,
  decoderLabel,
  deviceHint,
  devicesFor,
  fallbackReason,
  ffmpegHasHwDecoder,
  type HwAttempt,
  type HwDevice,
} from './hwaccel.ts';
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
  return classifyOpenError(undefined, line.replace(/^.*?: /, ''), req.display, req.network, req.rtsp);
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
  const startedAt = performance.now();
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
        if (err) {
          const info = classifyStderr(stderr || err.message, req);
          if (info.diagnose) info.diagnose.elapsedMs = performance.now() - startedAt;
          return resolve(info);
        }
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

/** The useful part of ffmpeg's stderr about a hardware device, one line: "Cannot load libcuda.so.1; ...". */
export function hwErrorSummary(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.replace(/^\[[^\]]*@ ?0x[0-9a-f]+\]\s*/i, '').trim())
    .filter((l) => l && !/^Error parsing global options|^Device creation failed: -?\d+\.?$/.test(l));
  return [...new Set(lines)].slice(0, 3).join('; ');
}

/** Lines on ffmpeg's stderr that say its hardware decoding failed (so a software retry may work). */
const HW_FAILURE =
  /hwaccel|hw_?device|device creation|device setup|no device available|hardware|cuda|cuvid|nvdec|vaapi|videotoolbox|failed setup for format/i;

/** Per ffmpeg executable and device: undefined when `ffmpeg -init_hw_device` works, else why not. */
const deviceChecks = new Map<string, Promise<string | undefined>>();

/**
 * Whether the system ffmpeg can open a hardware device: `ffmpeg -init_hw_device <device> -version` (the device is
 * created while the options are read; no input is touched). Asked once per process, executable and device.
 */
export function checkFfmpegDevice(
  ffmpeg: string,
  device: HwDevice,
  path?: string,
): Promise<string | undefined> {
  const key = `${ffmpeg}\0${device}\0${path ?? ''}`;
  let check = deviceChecks.get(key);
  if (!check) {
    const spec = path ? `${device}=hw:${path}` : device;
    const args = ['-hide_banner', '-loglevel', 'error', '-nostdin', '-init_hw_device', spec, '-version'];
    check = new Promise((resolve) => {
      execFile(ffmpeg, args, { timeout: 15_000, maxBuffer: 1 << 20 }, (err, _stdout, stderr) => {
        if (!err) return resolve(undefined);
        const why = hwErrorSummary(stderr) || err.message;
        resolve(`cannot open the ${device} device${path ? ` ${path}` : ''}: ${why} (${deviceHint(device)})`);
      });
    });
    deviceChecks.set(key, check);
  }
  return check;
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
  /** Why hardware decoding failed in an earlier session of this stream; later ones decode in software. */
  #hwBroken: string | undefined;

  constructor(ffmpegPath: string, onMessage: (message: BackendMessage) => void) {
    this.#ffmpeg = ffmpegPath;
    this.#onMessage = onMessage;
  }

  open(req: SessionRequest): void {
    const session = ++this.#session;
    this.#window = req.window;
    void probe(ffprobePathFor(this.#ffmpeg), req).then(async (probed) => {
      if (this.#closed || session !== this.#session) return;
      if (!('width' in probed)) {
        this.#onMessage({ type: 'done', outcome: 'error', error: probed });
        return;
      }
      const device = await this.#chooseDevice(req, probed.codec);
      if (this.#closed || session !== this.#session) return;
      this.#start(req, probed, session, device, true);
    });
  }

  /**
   * The hardware device to pass as `-hwaccel`: the first asked-for one that ffmpeg can open and that has a decoder
   * for the codec; undefined for software. Posts the choice ('decoder').
   */
  async #chooseDevice(req: SessionRequest, codec: string): Promise<HwDevice | undefined> {
    const hwaccel = req.hwaccel ?? 'none';
    const attempts: HwAttempt[] = [];
    let chosen: HwDevice | undefined;
    for (const device of this.#hwBroken ? [] : devicesFor(hwaccel)) {
      const error = await checkFfmpegDevice(this.#ffmpeg, device, req.hwaccelDevice);
      if (error) attempts.push({ device, error });
      else if (!ffmpegHasHwDecoder(device, codec))
        attempts.push({ device, error: `FFmpeg has no ${device} decoder for ${codec}` });
      else {
        chosen = device;
        break;
      }
    }
    this.#onMessage(
      decoderChoice(codec, hwaccel, chosen, this.#hwBroken ?? fallbackReason(hwaccel, attempts)),
    );
    return chosen;
  }

  #start(
    req: SessionRequest,
    probed: Omit<StreamInfo, 'outputWidth' | 'outputHeight'>,
    session: number,
    device: HwDevice | undefined,
    announce: boolean,
  ): void {
    const out = fitInside(probed, req.fit);
    if (announce) {
      this.#onMessage({
        type: 'info',
        info: {
          ...probed,
          outputWidth: out.width,
          outputHeight: out.height,
          decoder: decoderLabel(probed.codec, device),
        },
      });
    }
    const args = ['-hide_banner', '-loglevel', 'error', '-nostdin'];
    if (req.realtime) args.push('-re');
    if (req.loop && !req.network) args.push('-stream_loop', '-1');
    // Plain -hwaccel: ffmpeg downloads each frame to system memory itself, before the scale filter.
    if (device) {
      args.push('-hwaccel', device);
      if (req.hwaccelDevice) args.push('-hwaccel_device', req.hwaccelDevice);
    }
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
      if (code !== 0 && device && index === 0 && HW_FAILURE.test(stderr)) {
        // The device opened but decoding this stream on it did not start: once more in software, for good.
        this.#hwBroken = `${device}: ${hwErrorSummary(stderr) || `ffmpeg exited with code ${code}`}`;
        this.#onMessage(decoderChoice(probed.codec, req.hwaccel ?? 'none', undefined, this.#hwBroken));
        this.#start(req, probed, session, undefined, false);
        return;
      }
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
