/**
 * Hardware decoding with node-av, inside a decode worker thread: the thread's open devices, a decoder for a stream
 * on the first device that works (else none, with why each one failed), and the download of a hardware frame to
 * system memory.
 */
import { Decoder } from 'node-av/api';
import {
  AV_HWDEVICE_TYPE_CUDA,
  AV_HWDEVICE_TYPE_VAAPI,
  AV_HWDEVICE_TYPE_VIDEOTOOLBOX,
  AV_PIX_FMT_CUDA,
  AV_PIX_FMT_VAAPI,
  AV_PIX_FMT_VIDEOTOOLBOX,
  type AVCodecID,
  type AVHWDeviceType,
  type AVPixelFormat,
} from 'node-av/constants';
import { Codec, FFmpegError, Frame, HardwareDeviceContext } from 'node-av/lib';
import { deviceHint, devicesFor, type HwAttempt, type Hwaccel, type HwDevice } from './hwaccel.ts';

const HW_TYPE: Record<HwDevice, AVHWDeviceType> = {
  cuda: AV_HWDEVICE_TYPE_CUDA,
  vaapi: AV_HWDEVICE_TYPE_VAAPI,
  videotoolbox: AV_HWDEVICE_TYPE_VIDEOTOOLBOX,
};

/** The pixel format of each device's decoded frames (they stay in GPU memory until downloaded). */
const HW_PIX_FMT: Record<HwDevice, AVPixelFormat> = {
  cuda: AV_PIX_FMT_CUDA,
  vaapi: AV_PIX_FMT_VAAPI,
  videotoolbox: AV_PIX_FMT_VIDEOTOOLBOX,
};

interface OpenDevice {
  type: AVHWDeviceType;
  context: HardwareDeviceContext;
}

/**
 * Hardware devices of this worker thread (one stream), by "device:path": the open device or why it cannot be
 * opened. Kept across loops and reconnects: opening a CUDA device costs a context (time and GPU memory), and a
 * device that failed once is not tried again for this stream.
 */
const hwDevices = new Map<string, OpenDevice | string>();

function openHwDevice(device: HwDevice, path: string | undefined): OpenDevice | string {
  const key = `${device}:${path ?? ''}`;
  const known = hwDevices.get(key);
  if (known !== undefined) return known;
  let result: OpenDevice | string;
  const type = HW_TYPE[device];
  if (!HardwareDeviceContext.iterateTypes().includes(type)) {
    result = `this FFmpeg build has no ${device} support (${deviceHint(device)})`;
  } else {
    const context = new HardwareDeviceContext();
    const ret = context.create(type, path ?? null, null);
    if (ret < 0) {
      context.free();
      result = `cannot open the ${device} device${path ? ` ${path}` : ''}: ${new FFmpegError(ret).message} (${deviceHint(device)})`;
    } else {
      result = { type, context };
    }
  }
  hwDevices.set(key, result);
  return result;
}

/** Free this thread's hardware devices (the worker is closing). */
export function releaseHwDevices(): void {
  for (const d of hwDevices.values()) if (typeof d !== 'string') d.context.free();
  hwDevices.clear();
}

/** A decoder for `codecId` that can use `type`: the usual one, else another (e.g. native av1 instead of libdav1d). */
function hwDecoderFor(codecId: AVCodecID, type: AVHWDeviceType): Codec | undefined {
  const usual = Codec.findDecoder(codecId);
  if (usual?.isHardwareAcceleratedDecoder(type)) return usual;
  return Codec.getCodecList().find(
    (c) => c.isDecoder() && c.id === codecId && c.isHardwareAcceleratedDecoder(type),
  );
}

/** What openHwDecoder found: a decoder on `device`, or none and why each device tried could not be used. */
export interface HwDecoderChoice {
  decoder?: Decoder;
  device?: HwDevice;
  attempts: HwAttempt[];
}

/** A decoder for `stream` on the first device of `hwaccel`'s order that opens and decodes its codec. */
export function openHwDecoder(
  stream: Parameters<typeof Decoder.createSync>[0],
  codec: string,
  options: { hwaccel: Hwaccel; device?: string; threads?: number },
): HwDecoderChoice {
  const attempts: HwAttempt[] = [];
  for (const device of devicesFor(options.hwaccel)) {
    const opened = openHwDevice(device, options.device);
    if (typeof opened === 'string') {
      attempts.push({ device, error: opened });
      continue;
    }
    const hwCodec = hwDecoderFor(stream.codecpar.codecId, opened.type);
    if (!hwCodec) {
      attempts.push({ device, error: `FFmpeg has no ${device} decoder for ${codec}` });
      continue;
    }
    try {
      const decoder = Decoder.createSync(stream, hwCodec, {
        context: { threadCount: options.threads },
        configure: (ctx) => {
          ctx.hwDeviceCtx = opened.context;
          ctx.setHardwarePixelFormat(HW_PIX_FMT[device]);
        },
      });
      return { decoder, device, attempts };
    } catch (err) {
      attempts.push({
        device,
        error: `opening the ${hwCodec.name} decoder failed: ${(err as Error).message}`,
      });
    }
  }
  return { attempts };
}

/** A hardware frame downloaded to system memory (NV12, P010... as the device offers; swscale takes it from there). */
export function downloadHwFrame(frame: Frame, device: HwDevice | undefined): Frame {
  const sw = new Frame();
  sw.alloc();
  const ret = frame.hwframeTransferDataSync(sw, 0);
  if (ret < 0) {
    sw.free();
    FFmpegError.throwIfError(ret, `Downloading a ${device ?? 'hardware'} frame`);
  }
  sw.copyProps(frame);
  return sw;
}
