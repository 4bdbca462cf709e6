/** Hardware decoding choices shared by both backends (no node-av import: the ffmpeg backend runs on the main thread). */

import { HWACCELS, type Hwaccel } from '@sightline/shared/decoder';
import type { DecoderChoice, HwDevice } from './protocol.ts';

export { HWACCELS, type Hwaccel, type HwDevice };

/** The devices `auto` tries, in order: NVDEC then VA-API on Linux, VideoToolbox on macOS, nothing elsewhere. */
export function autoDevices(platform: NodeJS.Platform = process.platform): HwDevice[] {
  if (platform === 'darwin') return ['videotoolbox'];
  if (platform === 'linux') return ['cuda', 'vaapi'];
  return [];
}

/** The devices to try for a request, in order (empty for `none`). */
export function devicesFor(hwaccel: Hwaccel, platform: NodeJS.Platform = process.platform): HwDevice[] {
  if (hwaccel === 'none') return [];
  if (hwaccel === 'auto') return autoDevices(platform);
  return [hwaccel];
}

/**
 * FFmpeg codecs whose usual decoder has a hwaccel for each device (libavcodec's hwaccels: nvdec, vaapi,
 * videotoolbox). Used by the ffmpeg backend, which cannot ask the system ffmpeg; node-av asks its own libraries.
 * av1 is left out: a system ffmpeg usually decodes it with libdav1d, which has no hwaccel.
 */
const HW_CODECS: Record<HwDevice, ReadonlySet<string>> = {
  cuda: new Set([
    'h263',
    'h264',
    'hevc',
    'mjpeg',
    'mpeg1video',
    'mpeg2video',
    'mpeg4',
    'vc1',
    'vp8',
    'vp9',
    'wmv3',
  ]),
  vaapi: new Set(['h263', 'h264', 'hevc', 'mjpeg', 'mpeg2video', 'mpeg4', 'vc1', 'vp8', 'vp9', 'wmv3']),
  videotoolbox: new Set(['h263', 'h264', 'hevc', 'mpeg1video', 'mpeg2video', 'mpeg4', 'prores', 'vp9']),
};

/** Whether FFmpeg has a `device` hwaccel for `codec` (an FFmpeg codec name such as "h264"). */
export function ffmpegHasHwDecoder(device: HwDevice, codec: string): boolean {
  return HW_CODECS[device].has(codec);
}

/** What a failed device usually means, added to FFmpeg's terse error ("Operation not permitted"). */
export function deviceHint(device: HwDevice, platform: NodeJS.Platform = process.platform): string {
  switch (device) {
    case 'cuda':
      return 'needs an NVIDIA GPU and driver: libcuda.so.1';
    case 'vaapi':
      return 'needs a /dev/dri/renderD* node this user can open and a VA-API driver';
    case 'videotoolbox':
      return platform === 'darwin' ? 'VideoToolbox refused' : 'VideoToolbox exists only on macOS';
  }
}

/** The label shown in stream info and stats: "h264 (software)", "h264 (cuda)". */
export function decoderLabel(codec: string, device: HwDevice | undefined): string {
  return `${codec} (${device ?? 'software'})`;
}

/** One hardware attempt that did not work, e.g. "cuda: Operation not permitted (needs an NVIDIA GPU ...)". */
export interface HwAttempt {
  device: HwDevice;
  error: string;
}

/** Why a request for hardware decoding ended in software, from the attempts made (one line). */
export function fallbackReason(hwaccel: Hwaccel, attempts: HwAttempt[]): string {
  if (attempts.length === 0) return `no hardware decoder type for hwaccel ${hwaccel} on ${process.platform}`;
  return attempts.map((a) => `${a.device}: ${a.error}`).join('; ');
}

/** Check StreamSource's hwaccel options (TypeError naming the bad one); the hwaccel, `none` when not given. */
export function checkHwaccelOptions(options: { hwaccel?: unknown; hwaccelDevice?: unknown }): Hwaccel {
  const hwaccel = options.hwaccel ?? 'none';
  if (!HWACCELS.includes(hwaccel as Hwaccel)) {
    throw new TypeError(
      `Expected one of ${HWACCELS.join(', ')} for hwaccel but received ${String(hwaccel)} of type ${typeof hwaccel}`,
    );
  }
  const device = options.hwaccelDevice;
  if (device !== undefined && (typeof device !== 'string' || device === '')) {
    throw new TypeError(
      `Expected a non-empty string for hwaccelDevice but received ${String(device)} of type ${typeof device}`,
    );
  }
  return hwaccel as Hwaccel;
}

/**
 * The one log line of a stream's decoder choice, or undefined when there is nothing to say (no hwaccel asked).
 * Hardware asked for and not used: info for auto (expected to find nothing on most machines), warn when a device
 * was named; hardware in use: info.
 */
export function decoderChoiceLog(choice: {
  decoder: string;
  hwaccel: Hwaccel;
  fallback?: string;
}): { level: 'info' | 'warn'; fields: Record<string, string>; line: string } | undefined {
  if (choice.hwaccel === 'none') return undefined;
  const fields = {
    hwaccel: choice.hwaccel,
    decoder: choice.decoder,
    ...(choice.fallback ? { fallback: choice.fallback } : {}),
  };
  if (!choice.fallback) {
    return { level: 'info', fields, line: `hwaccel ${choice.hwaccel}: decoding ${choice.decoder}` };
  }
  const codec = choice.decoder.replace(/ \(software\)$/, '');
  return {
    level: choice.hwaccel === 'auto' ? 'info' : 'warn',
    fields,
    line: `hwaccel ${choice.hwaccel} not used (${choice.fallback}); decoding ${codec} in software`,
  };
}

/**
 * The backend's 'decoder' message: `codec` decoded on `device` (undefined: in software), and when hwaccel was asked
 * for and not used, `fallback` saying why.
 */
export function decoderChoice(
  codec: string,
  hwaccel: Hwaccel,
  device: HwDevice | undefined,
  fallback?: string,
): DecoderChoice {
  return {
    type: 'decoder',
    decoder: decoderLabel(codec, device),
    hwaccel,
    ...(device ? { device } : {}),
    ...(hwaccel !== 'none' && !device && fallback ? { fallback } : {}),
  };
}
