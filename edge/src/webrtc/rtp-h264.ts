/** H.264 over RTP (RFC 6184, packetization-mode=1): packetizer, depacketizer, and where keyframes start. */
import { randomInt } from 'node:crypto';
import { RtpHeader, RtpPacket } from 'werift';
import { H264Error, NAL, nalType } from '../h264/nal.ts';

/** The 90 kHz RTP clock of video. */
export const RTP_VIDEO_CLOCK = 90_000;

/** One RTP payload of an access unit; `marker` is set on the access unit's last one. */
export interface H264Payload {
  payload: Buffer;
  marker: boolean;
}

function isParameterSet(nal: Uint8Array): boolean {
  const t = nalType(nal);
  return t === NAL.SPS || t === NAL.PPS;
}

/**
 * RTP payloads of one access unit (its NAL units in order, without start codes or length prefixes): runs of SPS/PPS
 * that fit go in one STAP-A, a NAL unit larger than `mtu` is split into FU-A fragments, others go as they are.
 */
export function packetizeAccessUnit(nals: Uint8Array[], mtu = 1200): H264Payload[] {
  if (!Number.isInteger(mtu) || mtu < 100)
    throw new RangeError(`Expected an MTU of at least 100 bytes, got ${mtu}`);
  const out: Buffer[] = [];
  for (let i = 0; i < nals.length; i++) {
    const nal = nals[i]!;
    if (nal.length === 0) throw new H264Error(`empty NAL unit ${i} in the access unit`);
    // STAP-A: this parameter set and the ones right after it, while they fit.
    if (isParameterSet(nal)) {
      const group = [nal];
      let size = 1 + 2 + nal.length;
      while (i + 1 < nals.length && nals[i + 1]!.length > 0 && isParameterSet(nals[i + 1]!)) {
        const next = nals[i + 1]!;
        if (size + 2 + next.length > mtu) break;
        group.push(next);
        size += 2 + next.length;
        i++;
      }
      if (group.length > 1) {
        out.push(stapA(group, size));
        continue;
      }
    }
    if (nal.length <= mtu) out.push(Buffer.from(nal.buffer, nal.byteOffset, nal.length));
    else out.push(...fuA(nal, mtu));
  }
  return out.map((payload, k) => ({ payload, marker: k === out.length - 1 }));
}

function stapA(group: Uint8Array[], size: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  let nri = 0;
  for (const n of group) nri = Math.max(nri, n[0]! & 0x60);
  buf[0] = nri | NAL.STAP_A;
  let o = 1;
  for (const n of group) {
    buf.writeUInt16BE(n.length, o);
    buf.set(n, o + 2);
    o += 2 + n.length;
  }
  return buf;
}

function fuA(nal: Uint8Array, mtu: number): Buffer[] {
  const indicator = (nal[0]! & 0xe0) | NAL.FU_A;
  const type = nal[0]! & 0x1f;
  const body = nal.subarray(1);
  const chunk = mtu - 2;
  const count = Math.ceil(body.length / chunk);
  // Even fragment sizes: no tiny last fragment.
  const each = Math.ceil(body.length / count);
  const out: Buffer[] = [];
  for (let k = 0, o = 0; k < count; k++, o += each) {
    const part = body.subarray(o, Math.min(body.length, o + each));
    const buf = Buffer.allocUnsafe(2 + part.length);
    buf[0] = indicator;
    buf[1] = (k === 0 ? 0x80 : 0) | (k === count - 1 ? 0x40 : 0) | type;
    buf.set(part, 2);
    out.push(buf);
  }
  return out;
}

export interface H264PacketizerOptions {
  /** Most payload bytes per RTP packet. Default 1200. */
  mtu?: number;
  /** RTP payload type (the sender rewrites it to the negotiated one). Default 96. */
  payloadType?: number;
  /** SSRC (the sender rewrites it to its own). Default random. */
  ssrc?: number;
  /** First sequence number. Default random. */
  initialSequence?: number;
  /** Added to the 90 kHz pts to make the RTP timestamp. Default random (RFC 3550). */
  timestampOffset?: number;
}

/** Packetizes access units into werift RtpPackets with wrapping sequence numbers and pts-derived timestamps. */
export class H264Packetizer {
  readonly mtu: number;
  readonly payloadType: number;
  readonly ssrc: number;
  /** Added to pts (mod 2^32) to give the RTP timestamp. */
  readonly timestampOffset: number;
  #seq: number;

  constructor(options: H264PacketizerOptions = {}) {
    this.mtu = options.mtu ?? 1200;
    this.payloadType = options.payloadType ?? 96;
    this.ssrc = options.ssrc ?? randomInt(1, 2 ** 32 - 1);
    this.#seq = (options.initialSequence ?? randomInt(0, 0x10000)) & 0xffff;
    this.timestampOffset = (options.timestampOffset ?? randomInt(0, 2 ** 32 - 1)) >>> 0;
  }

  /** The sequence number the next packet gets. */
  get nextSequence(): number {
    return this.#seq;
  }

  /** RTP timestamp of a 90 kHz pts: (pts + offset) mod 2^32. */
  rtpTimestamp(pts: number): number {
    return (((Math.round(pts) % 2 ** 32) + this.timestampOffset) % 2 ** 32) >>> 0;
  }

  /** RTP packets of one access unit (marker on the last). */
  packetize(nals: Uint8Array[], pts: number): RtpPacket[] {
    const timestamp = this.rtpTimestamp(pts);
    return packetizeAccessUnit(nals, this.mtu).map(({ payload, marker }) => {
      const header = new RtpHeader({
        payloadType: this.payloadType,
        sequenceNumber: this.#seq,
        timestamp,
        ssrc: this.ssrc,
        marker,
      });
      this.#seq = (this.#seq + 1) & 0xffff;
      return new RtpPacket(header, payload);
    });
  }
}

/** One reassembled access unit. */
export interface DepacketizedAccessUnit {
  timestamp: number;
  nals: Uint8Array[];
}

/**
 * Reassembles access units from RTP payloads (single NAL, STAP-A, FU-A) in arrival order; an access unit ends at
 * the marker bit. A lost FU-A fragment drops that NAL unit. For tests and diagnostics, not a jitter buffer.
 */
export class H264Depacketizer {
  #nals: Uint8Array[] = [];
  #fu: Buffer[] | undefined;
  #timestamp: number | undefined;
  #lastSeq: number | undefined;

  /** Feed one packet; returns the access unit it completes, if any. Throws H264Error on an unsupported payload. */
  push(
    payload: Uint8Array,
    timestamp: number,
    marker: boolean,
    sequenceNumber?: number,
  ): DepacketizedAccessUnit | undefined {
    if (sequenceNumber !== undefined) {
      if (this.#lastSeq !== undefined && ((this.#lastSeq + 1) & 0xffff) !== sequenceNumber)
        this.#fu = undefined;
      this.#lastSeq = sequenceNumber;
    }
    if (this.#timestamp !== undefined && timestamp !== this.#timestamp) {
      this.#nals = [];
      this.#fu = undefined;
    }
    this.#timestamp = timestamp;
    if (payload.length === 0) throw new H264Error('empty RTP payload');
    const type = payload[0]! & 0x1f;
    if (type >= 1 && type <= 23) {
      this.#nals.push(payload.slice());
    } else if (type === NAL.STAP_A) {
      let i = 1;
      while (i + 2 <= payload.length) {
        const len = (payload[i]! << 8) | payload[i + 1]!;
        i += 2;
        if (len === 0 || i + len > payload.length) throw new H264Error('malformed STAP-A');
        this.#nals.push(payload.slice(i, i + len));
        i += len;
      }
    } else if (type === NAL.FU_A) {
      if (payload.length < 3) throw new H264Error('FU-A packet too short');
      const start = (payload[1]! & 0x80) !== 0;
      const end = (payload[1]! & 0x40) !== 0;
      if (start) this.#fu = [Buffer.from([(payload[0]! & 0xe0) | (payload[1]! & 0x1f)])];
      if (this.#fu) {
        this.#fu.push(Buffer.from(payload.subarray(2)));
        if (end) {
          this.#nals.push(Buffer.concat(this.#fu));
          this.#fu = undefined;
        }
      }
    } else {
      throw new H264Error(`unsupported H.264 RTP payload type ${type}`);
    }
    if (!marker) return undefined;
    const au = { timestamp, nals: this.#nals };
    this.#nals = [];
    this.#timestamp = undefined;
    return au;
  }
}

/** Whether an H.264 RTP payload starts a keyframe (IDR or SPS, alone, in a STAP-A, or the first FU-A fragment). */
export function startsKeyframe(payload: Uint8Array): boolean {
  if (payload.length < 2) return false;
  const type = payload[0]! & 0x1f;
  if (type === 5 || type === 7) return true;
  if (type === 28) return (payload[1]! & 0x80) !== 0 && (payload[1]! & 0x1f) === 5;
  if (type === 24) {
    for (let o = 1; o + 2 < payload.length; ) {
      const size = (payload[o]! << 8) | payload[o + 1]!;
      const t = payload[o + 2]! & 0x1f;
      if (t === 5 || t === 7) return true;
      o += 2 + size;
    }
  }
  return false;
}
