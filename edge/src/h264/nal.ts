/** H.264 bitstream helpers: AVCC and Annex-B to NAL units, avcC records, SPS -> profile-level-id, in-band parameter sets. */
import { SightlineError } from '@sightline/shared';

/** NAL unit types this module cares about. */
export const NAL = {
  /** Coded slice of a non-IDR picture. */
  SLICE: 1,
  /** Coded slice of an IDR picture (a keyframe). */
  IDR: 5,
  SEI: 6,
  SPS: 7,
  PPS: 8,
  /** Access unit delimiter. */
  AUD: 9,
  /** RFC 6184 aggregation packet (RTP only). */
  STAP_A: 24,
  /** RFC 6184 fragmentation unit (RTP only). */
  FU_A: 28,
} as const;

/** A malformed H.264 bitstream or record: H264_INVALID. */
export class H264Error extends SightlineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('H264_INVALID', message, options);
  }
}

/** The type of a NAL unit (low 5 bits of its first byte). */
export function nalType(nal: Uint8Array): number {
  if (nal.length === 0) throw new H264Error('empty NAL unit');
  return nal[0]! & 0x1f;
}

/** The parameter sets of an avcC record (ISO/IEC 14496-15 AVCDecoderConfigurationRecord). */
export interface AvcConfig {
  profileIdc: number;
  /** constraint_set flags byte as in the SPS. */
  constraints: number;
  levelIdc: number;
  /** Bytes of each NAL length prefix in the samples (1, 2 or 4). */
  lengthSize: number;
  sps: Uint8Array[];
  pps: Uint8Array[];
}

/** Split length-prefixed (AVCC) data into NAL units (views into `data`). Throws H264Error on a bad length. */
export function splitAvcc(data: Uint8Array, lengthSize = 4): Uint8Array[] {
  if (lengthSize !== 1 && lengthSize !== 2 && lengthSize !== 4) {
    throw new H264Error(`AVCC length prefix must be 1, 2 or 4 bytes, not ${lengthSize}`);
  }
  const out: Uint8Array[] = [];
  let i = 0;
  while (i < data.length) {
    if (i + lengthSize > data.length) {
      throw new H264Error(`truncated AVCC length prefix at byte ${i} of ${data.length}`);
    }
    let len = 0;
    for (let k = 0; k < lengthSize; k++) len = len * 256 + data[i + k]!;
    i += lengthSize;
    if (len === 0) throw new H264Error(`zero-length NAL unit at byte ${i - lengthSize} of AVCC data`);
    if (i + len > data.length) {
      throw new H264Error(
        `AVCC NAL unit of ${len} bytes at byte ${i} overruns the ${data.length}-byte packet`,
      );
    }
    out.push(data.subarray(i, i + len));
    i += len;
  }
  return out;
}

/** Split Annex-B data (00 00 01 / 00 00 00 01 start codes) into NAL units (views into `data`); empty units are skipped. */
export function splitAnnexB(data: Uint8Array): Uint8Array[] {
  const starts: { at: number; body: number }[] = [];
  for (let i = 0; i + 2 < data.length; i++) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      starts.push({ at: i > 0 && data[i - 1] === 0 ? i - 1 : i, body: i + 3 });
      i += 2;
    }
  }
  if (starts.length === 0) throw new H264Error('no Annex-B start code in the data');
  const out: Uint8Array[] = [];
  for (let k = 0; k < starts.length; k++) {
    let end = k + 1 < starts.length ? starts[k + 1]!.at : data.length;
    // Trailing zero bytes belong to the next start code (or are trailing_zero_8bits).
    while (end > starts[k]!.body && data[end - 1] === 0) end--;
    if (end > starts[k]!.body) out.push(data.subarray(starts[k]!.body, end));
  }
  return out;
}

/** Whether `data` begins with an Annex-B start code (00 00 01 or 00 00 00 01). */
export function isAnnexB(data: Uint8Array): boolean {
  if (data.length >= 3 && data[0] === 0 && data[1] === 0 && data[2] === 1) return true;
  return data.length >= 4 && data[0] === 0 && data[1] === 0 && data[2] === 0 && data[3] === 1;
}

/**
 * NAL units of one packet, Annex-B or AVCC (detected: a start code first means Annex-B). An AVCC packet whose first
 * length is 1 (00 00 00 01) would look like Annex-B; that is a 1-byte NAL unit, which no encoder emits.
 */
export function splitNalUnits(data: Uint8Array, lengthSize = 4): Uint8Array[] {
  if (data.length === 0) throw new H264Error('empty packet');
  return isAnnexB(data) ? splitAnnexB(data) : splitAvcc(data, lengthSize);
}

/** Parse an avcC record (MP4 extradata). Throws H264Error when truncated or not an avcC record. */
export function parseAvcC(data: Uint8Array): AvcConfig {
  if (data.length < 7) throw new H264Error(`avcC record too short: ${data.length} bytes (at least 7)`);
  if (data[0] !== 1) throw new H264Error(`not an avcC record: configurationVersion is ${data[0]}, not 1`);
  const lengthSize = (data[4]! & 0x03) + 1;
  if (lengthSize === 3) throw new H264Error('avcC record has an invalid NAL length size of 3');
  let i = 6;
  const read = (count: number, what: string): Uint8Array[] => {
    const out: Uint8Array[] = [];
    for (let k = 0; k < count; k++) {
      if (i + 2 > data.length) throw new H264Error(`avcC record truncated in ${what} ${k + 1} of ${count}`);
      const len = (data[i]! << 8) | data[i + 1]!;
      i += 2;
      if (len === 0) throw new H264Error(`avcC record has a zero-length ${what}`);
      if (i + len > data.length) throw new H264Error(`avcC record truncated in ${what} ${k + 1} of ${count}`);
      out.push(data.subarray(i, i + len));
      i += len;
    }
    return out;
  };
  const sps = read(data[5]! & 0x1f, 'SPS');
  if (i >= data.length) throw new H264Error('avcC record truncated before its PPS count');
  const ppsCount = data[i]!;
  i++;
  const pps = read(ppsCount, 'PPS');
  if (sps.length === 0) throw new H264Error('avcC record holds no SPS');
  return { profileIdc: data[1]!, constraints: data[2]!, levelIdc: data[3]!, lengthSize, sps, pps };
}

/** SPS and PPS from codec extradata: an avcC record (MP4) or Annex-B parameter sets (RTSP, raw .h264). */
export function parameterSetsFromExtradata(extradata: Uint8Array): {
  sps: Uint8Array[];
  pps: Uint8Array[];
  lengthSize: number;
} {
  if (extradata.length === 0) return { sps: [], pps: [], lengthSize: 4 };
  if (extradata[0] === 1) {
    const c = parseAvcC(extradata);
    return { sps: c.sps, pps: c.pps, lengthSize: c.lengthSize };
  }
  const nals = splitAnnexB(extradata);
  return {
    sps: nals.filter((n) => nalType(n) === NAL.SPS),
    pps: nals.filter((n) => nalType(n) === NAL.PPS),
    lengthSize: 4,
  };
}

/** RFC 6184 profile-level-id of an SPS NAL unit: profile_idc, constraint flags, level_idc as 6 lowercase hex digits. */
export function profileLevelId(sps: Uint8Array): string {
  if (sps.length < 4) throw new H264Error(`SPS too short: ${sps.length} bytes (at least 4)`);
  if (nalType(sps) !== NAL.SPS) throw new H264Error(`not an SPS: NAL unit type ${nalType(sps)}`);
  return Array.from(sps.subarray(1, 4), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Whether these NAL units carry both an SPS and a PPS. */
export function hasParameterSets(nals: Uint8Array[]): boolean {
  let sps = false;
  let pps = false;
  for (const n of nals) {
    const t = nalType(n);
    if (t === NAL.SPS) sps = true;
    else if (t === NAL.PPS) pps = true;
  }
  return sps && pps;
}

/** Whether these NAL units hold an IDR slice. */
export function hasIdr(nals: Uint8Array[]): boolean {
  return nals.some((n) => nalType(n) === NAL.IDR);
}

/**
 * Turns a stream's packets into access units of NAL units ready to packetize: SPS/PPS from the extradata go in
 * front of every IDR that lacks them (MP4 keeps them out of band), so a viewer joining mid-stream can decode.
 * Access unit delimiters are dropped (they mean nothing over RTP). Remembers in-band SPS/PPS for later IDRs.
 */
export class AccessUnitBuilder {
  #sps: Uint8Array[];
  #pps: Uint8Array[];
  readonly #lengthSize: number;

  /** `extradata`: the stream's avcC record or Annex-B SPS/PPS (may be empty when they come in band). */
  constructor(extradata: Uint8Array = new Uint8Array(0)) {
    const ps = parameterSetsFromExtradata(extradata);
    this.#sps = ps.sps;
    this.#pps = ps.pps;
    this.#lengthSize = ps.lengthSize;
  }

  /** The first SPS known (from the extradata or seen in band), if any. */
  get sps(): Uint8Array | undefined {
    return this.#sps[0];
  }

  /** NAL units of one packet, with SPS/PPS prepended before an IDR that has none. Throws H264Error on bad data. */
  accessUnit(data: Uint8Array): Uint8Array[] {
    const nals = splitNalUnits(data, this.#lengthSize).filter((n) => nalType(n) !== NAL.AUD);
    if (!hasIdr(nals)) return nals;
    if (hasParameterSets(nals)) {
      this.#sps = nals.filter((n) => nalType(n) === NAL.SPS).map((n) => n.slice());
      this.#pps = nals.filter((n) => nalType(n) === NAL.PPS).map((n) => n.slice());
      return nals;
    }
    if (this.#sps.length === 0 || this.#pps.length === 0) return nals;
    return [
      ...this.#sps,
      ...this.#pps,
      ...nals.filter((n) => nalType(n) !== NAL.SPS && nalType(n) !== NAL.PPS),
    ];
  }
}
