/** SDP helpers for WHIP ingest: pick the offer's H.264, narrow the offer to it, describe the forwarded RTP for FFmpeg. */
import type { SessionDescription } from 'sdp-transform';
import * as sdpTransform from 'sdp-transform';

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

/** A number as sdp-transform gives it (a number, or digits it kept as text such as "0102"); else undefined. */
function sdpNumber(value: number | string | undefined): number | undefined {
  if (typeof value === 'number') return value;
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

function fmtpParam(fmtp: string, name: string): string | undefined {
  for (const part of fmtp.split(';')) {
    const [k, v] = part.trim().split('=');
    if (k?.toLowerCase() === name && v !== undefined) return v.trim();
  }
  return undefined;
}

/** The parsed SDP, or undefined when sdp-transform cannot read it. */
function parseSdp(sdp: string): SessionDescription | undefined {
  try {
    return sdpTransform.parse(sdp);
  } catch {
    return undefined;
  }
}

function invalid(message: string): OfferCheck {
  return { ok: false, code: 'SDP_INVALID', message };
}

/**
 * Check a WHIP offer: one m=video section, sent by the offerer, carrying H.264. Picks the first H.264 format with
 * packetization-mode=1 (else the first H.264), and returns the offer with the video section narrowed to that one
 * format (the answer then carries only it, so the publisher sends only it). Parsed and written with sdp-transform.
 */
export function checkWhipOffer(sdp: string): OfferCheck {
  const first = sdp.split(/\r?\n/).find((l) => l !== '');
  const session = parseSdp(sdp);
  if (first?.trim() !== 'v=0' || !session || session.media.length === 0) {
    return invalid('the body is not an SDP offer (expected "v=0" and m= lines)');
  }
  const video = session.media.filter((m) => m.type === 'video');
  if (video.length === 0) return invalid('the SDP offer has no video (m=video) section');
  if (video.length > 1) {
    return invalid(`the SDP offer has ${video.length} video sections; publish one camera per WHIP session`);
  }
  const m = video[0]!;
  const port = sdpNumber(m.port);
  if (port === undefined || port > 65535) return invalid("the offer's video m= line has no valid port");
  if (port === 0) return invalid('the offer rejects its own video (port 0)');
  // sdp-transform gives a lone payload type as a number (and port, codec or fmtp values that look like numbers too).
  const tokens = String(m.payloads ?? '')
    .trim()
    .split(/\s+/)
    .filter((f) => f !== '');
  // RTP carries a 7-bit payload type: a format outside 0..127 could never arrive (and FFmpeg would be told it).
  const badFormat = tokens.find((f) => !/^\d{1,3}$/.test(f) || Number(f) > 127);
  if (badFormat !== undefined) {
    return invalid(
      `the offer's video format "${badFormat.slice(0, 20)}" is not an RTP payload type (0..127)`,
    );
  }
  const formats = tokens.map(Number);
  // Later lines for the same payload type win, as they would in a line-by-line reading.
  const names = new Map<number, string>();
  for (const r of m.rtp ?? []) {
    const pt = sdpNumber(r.payload);
    if (pt !== undefined) names.set(pt, String(r.codec));
  }
  const fmtps = new Map<number, string>();
  for (const f of m.fmtp ?? []) {
    const pt = sdpNumber(f.payload);
    if (pt !== undefined) fmtps.set(pt, String(f.config).trim());
  }
  const direction = m.direction ?? 'sendrecv';
  if (direction === 'recvonly' || direction === 'inactive') {
    return invalid(`the offer's video is ${direction}; a WHIP publisher sends video (sendonly)`);
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
  // Narrow the video section to `pt`: formats and their lines for other payload types go (rtcp-fb:* stays).
  const forPt = (x: { payload: number | string }) => sdpNumber(x.payload) === pt;
  const forPtOrAll = (x: { payload: number | string }) => {
    const n = sdpNumber(x.payload);
    return n === undefined || n === pt;
  };
  m.payloads = String(pt);
  m.rtp = m.rtp.filter(forPt);
  m.fmtp = m.fmtp.filter(forPt);
  if (m.rtcpFb) m.rtcpFb = m.rtcpFb.filter(forPtOrAll);
  if (m.rtcpFbTrrInt) m.rtcpFbTrrInt = m.rtcpFbTrrInt.filter(forPtOrAll);
  session.version = 0;
  let offer: string;
  try {
    offer = sdpTransform.write(session);
  } catch (err) {
    return invalid(`the SDP offer cannot be rewritten: ${(err as Error).message}`);
  }
  return { ok: true, h264: { pt, fmtp, ...(profileLevelId ? { profileLevelId } : {}) }, offer };
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
