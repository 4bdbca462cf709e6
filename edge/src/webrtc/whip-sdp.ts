/** SDP helpers for WHIP ingest: pick the offer's H.264, narrow the offer to it, describe the forwarded RTP for FFmpeg. */

/** The H.264 format chosen from an offer's video section. */
export interface OfferedH264 {
  /** RTP payload type. */
  pt: number;
  /** The offer's a=fmtp parameters for it ('' when none). */
  fmtp: string;
  /** profile-level-id from the fmtp, lower case, when given. */
  profileLevelId?: string;
}

export type OfferCheck =
  | { ok: true; h264: OfferedH264; offer: string }
  | { ok: false; code: 'SDP_INVALID' | 'CODEC_UNSUPPORTED'; message: string };

const RTPMAP = /^a=rtpmap:(\d+) ([^/\s]+)\//i;
const FMTP = /^a=fmtp:(\d+) (.*)$/i;
const PT_LINE = /^a=(?:rtpmap|fmtp|rtcp-fb):(\d+)[ \s]/i;

function fmtpParam(fmtp: string, name: string): string | undefined {
  for (const part of fmtp.split(';')) {
    const [k, v] = part.trim().split('=');
    if (k?.toLowerCase() === name && v !== undefined) return v.trim();
  }
  return undefined;
}

/**
 * Check a WHIP offer: one m=video section, sent by the offerer, carrying H.264. Picks the first H.264 format with
 * packetization-mode=1 (else the first H.264), and returns the offer with the video section narrowed to that one
 * format (the answer then carries only it, so the publisher sends only it).
 */
export function checkWhipOffer(sdp: string): OfferCheck {
  const lines = sdp.split(/\r?\n/).filter((l) => l !== '');
  if (lines[0]?.trim() !== 'v=0' || !lines.some((l) => l.startsWith('m='))) {
    return {
      ok: false,
      code: 'SDP_INVALID',
      message: 'the body is not an SDP offer (expected "v=0" and m= lines)',
    };
  }
  // Sections: [session, media...]; each a list of line indexes.
  const starts = lines.flatMap((l, i) => (l.startsWith('m=') ? [i] : []));
  const video = starts.filter((i) => /^m=video /.test(lines[i]!));
  if (video.length === 0) {
    return { ok: false, code: 'SDP_INVALID', message: 'the SDP offer has no video (m=video) section' };
  }
  if (video.length > 1) {
    return {
      ok: false,
      code: 'SDP_INVALID',
      message: `the SDP offer has ${video.length} video sections; publish one camera per WHIP session`,
    };
  }
  const at = video[0]!;
  const end = starts.find((i) => i > at) ?? lines.length;
  const mline = lines[at]!.trim().split(/\s+/);
  if (mline[1] === '0')
    return { ok: false, code: 'SDP_INVALID', message: 'the offer rejects its own video (port 0)' };
  const formats = mline.slice(3).map(Number);
  // RTP carries a 7-bit payload type: a format outside 0..127 could never arrive (and FFmpeg would be told it).
  const badFormat = mline.slice(3).find((f) => !/^\d{1,3}$/.test(f) || Number(f) > 127);
  if (badFormat !== undefined) {
    return {
      ok: false,
      code: 'SDP_INVALID',
      message: `the offer's video format "${badFormat.slice(0, 20)}" is not an RTP payload type (0..127)`,
    };
  }
  const names = new Map<number, string>();
  const fmtps = new Map<number, string>();
  let direction = 'sendrecv';
  for (let i = at + 1; i < end; i++) {
    const l = lines[i]!.trim();
    const r = RTPMAP.exec(l);
    if (r) names.set(Number(r[1]), r[2]!);
    const f = FMTP.exec(l);
    if (f) fmtps.set(Number(f[1]), f[2]!.trim());
    if (/^a=(sendonly|recvonly|sendrecv|inactive)$/.test(l)) direction = l.slice(2);
  }
  if (direction === 'recvonly' || direction === 'inactive') {
    return {
      ok: false,
      code: 'SDP_INVALID',
      message: `the offer's video is ${direction}; a WHIP publisher sends video (sendonly)`,
    };
  }
  const h264 = formats.filter((pt) => names.get(pt)?.toUpperCase() === 'H264');
  if (h264.length === 0) {
    const offered = [...new Set(formats.map((pt) => names.get(pt) ?? `payload type ${pt}`))];
    return {
      ok: false,
      code: 'CODEC_UNSUPPORTED',
      message: `the offer's video has no H.264 (offered: ${offered.join(', ') || 'nothing'}); this edge ingests H.264 only`,
    };
  }
  const pt = h264.find((p) => fmtpParam(fmtps.get(p) ?? '', 'packetization-mode') === '1') ?? h264[0]!;
  const fmtp = fmtps.get(pt) ?? '';
  const profileLevelId = fmtpParam(fmtp, 'profile-level-id')?.toLowerCase();
  const out = lines.flatMap((l, i) => {
    if (i < at || i >= end) return [l];
    if (i === at) return [[...mline.slice(0, 3), String(pt)].join(' ')];
    const m = PT_LINE.exec(l.trim());
    return m && Number(m[1]) !== pt ? [] : [l];
  });
  return {
    ok: true,
    h264: { pt, fmtp, ...(profileLevelId ? { profileLevelId } : {}) },
    offer: `${out.join('\r\n')}\r\n`,
  };
}

/** The SDP FFmpeg opens to receive the forwarded RTP (H.264, payload type `pt`) on 127.0.0.1:`port`. */
export function rtpInputSdp(streamId: string, port: number, h264: OfferedH264): string {
  const fmtp = h264.fmtp || 'packetization-mode=1';
  return [
    'v=0',
    'o=- 0 0 IN IP4 127.0.0.1',
    `s=WHIP ${streamId}`,
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=video ${port} RTP/AVP ${h264.pt}`,
    `a=rtpmap:${h264.pt} H264/90000`,
    `a=fmtp:${h264.pt} ${fmtp}`,
    'a=recvonly',
    '',
  ].join('\r\n');
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
