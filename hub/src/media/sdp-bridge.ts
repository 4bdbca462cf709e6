/**
 * SDP <-> mediasoup parameters (sdp-transform does the text). Offers from publishers (werift, browsers, WHIP)
 * become produce() parameters; answers and viewer offers are written from a WebRtcTransport, Consumers and a
 * DataConsumer. mediasoup is ICE-lite and answers DTLS passive.
 */
import { SightlineError } from '@sightline/shared';
import type { types as T } from 'mediasoup';
import type { MediaAttributes, MediaDescription, SessionDescription } from 'sdp-transform';
import * as sdpTransform from 'sdp-transform';

/** An offer or answer that cannot be used (SDP_INVALID); the message says what is wrong with it. */
export class SdpError extends SightlineError {
  declare readonly code: 'SDP_INVALID';
  constructor(message: string, options?: { cause?: unknown }) {
    super('SDP_INVALID', message, options);
  }
}

/** Header extensions mediasoup understands (the others are left out of answers). */
const SUPPORTED_EXTENSIONS = new Set<string>([
  'urn:ietf:params:rtp-hdrext:sdes:mid',
  'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
  'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
  'urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  'urn:3gpp:video-orientation',
  'urn:ietf:params:rtp-hdrext:toffset',
  'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  'http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time',
  'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay',
]);

/** The SCTP port mediasoup uses on its side. */
const SCTP_PORT = 5000;

/** One m= section of an offer, as the answer must mirror it. */
export interface OfferSection {
  mid: string;
  type: string;
  protocol: string;
}

/** What the hub needs from a publisher's offer. */
export interface PublishOffer {
  sections: OfferSection[];
  dtlsParameters: T.DtlsParameters;
  /** The video section, with produce() parameters for the codec picked (the first H.264 / VP8 one). */
  video?: { mid: string; rtpParameters: T.RtpParameters };
  /** The data-channel section. */
  data?: { mid: string; maxMessageSize: number };
}

/** Parses SDP text, refusing what is not SDP at all. */
export function parseSdp(sdp: string): SessionDescription {
  if (typeof sdp !== 'string' || !/^v=0\r?\n/.test(sdp))
    throw new SdpError('not an SDP (must start with v=0)');
  let parsed: SessionDescription;
  try {
    parsed = sdpTransform.parse(sdp);
  } catch (err) {
    throw new SdpError(`unreadable SDP: ${(err as Error).message}`);
  }
  if (!Array.isArray(parsed.media) || parsed.media.length === 0) throw new SdpError('SDP has no m= section');
  return parsed;
}

/** The remote DTLS parameters of an offer or answer (fingerprint, and the role from a=setup). */
export function remoteDtls(session: SessionDescription): T.DtlsParameters {
  const media = session.media.find((m) => m.port !== 0) ?? session.media[0]!;
  const fp = media.fingerprint ?? session.fingerprint;
  if (!fp) throw new SdpError('SDP has no a=fingerprint');
  const algorithm = fp.type.toLowerCase() as T.FingerprintAlgorithm;
  if (!['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512'].includes(algorithm)) {
    throw new SdpError(`unsupported fingerprint algorithm ${fp.type}`);
  }
  const setup = media.setup ?? session.setup ?? 'actpass';
  // Their role: active is the DTLS client, passive the server; actpass lets us pick (we are the server).
  const role: T.DtlsRole = setup === 'passive' ? 'server' : 'client';
  return { role, fingerprints: [{ algorithm, value: fp.hash }] };
}

function midOf(m: MediaDescription, index: number): string {
  return m.mid !== undefined ? String(m.mid) : String(index);
}

/** Codecs of an m= section as mediasoup codec parameters (payload type, fmtp, rtcp-fb). */
function sectionCodecs(m: MediaDescription): T.RtpCodecParameters[] {
  const kind = m.type === 'audio' ? 'audio' : 'video';
  // RTP carries a 7-bit payload type: a format numbered outside 0..127 is not a codec anyone can send.
  const rtps = (m.rtp ?? []).filter(
    (rtp) => Number.isInteger(rtp.payload) && rtp.payload >= 0 && rtp.payload <= 127,
  );
  return rtps.map((rtp) => {
    const fmtp = (m.fmtp ?? []).find((f) => f.payload === rtp.payload);
    const parameters = fmtp ? parseFmtp(fmtp.config) : {};
    const rtcpFeedback = (m.rtcpFb ?? [])
      .filter((fb) => String(fb.payload) === String(rtp.payload) || fb.payload === '*')
      .map((fb) => ({ type: fb.type, parameter: fb.subtype ?? '' }));
    return {
      mimeType: `${kind}/${rtp.codec}`,
      payloadType: rtp.payload,
      clockRate: rtp.rate ?? 90000,
      ...(kind === 'audio' && rtp.encoding ? { channels: Number(rtp.encoding) } : {}),
      parameters,
      rtcpFeedback,
    };
  });
}

/** `a=b;c=1` -> { a: 'b', c: 1 } (numbers as numbers, as mediasoup expects). */
export function parseFmtp(config: string): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const part of config.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const raw = part.slice(eq + 1).trim();
    out[key] = /^\d+$/.test(raw) && key !== 'profile-level-id' ? Number(raw) : raw;
  }
  return out;
}

function fmtpText(parameters: Record<string, unknown> | undefined): string {
  return Object.entries(parameters ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(';');
}

const isRtx = (c: { mimeType: string }) => /\/rtx$/i.test(c.mimeType);

/** Parses a publisher's offer: the video section's produce() parameters, the data channel, DTLS. */
export function parsePublishOffer(sdp: string): PublishOffer {
  const session = parseSdp(sdp);
  const dtlsParameters = remoteDtls(session);
  const sections = session.media.map((m, i) => ({ mid: midOf(m, i), type: m.type, protocol: m.protocol }));
  const out: PublishOffer = { sections, dtlsParameters };
  session.media.forEach((m, i) => {
    if (m.port === 0) return;
    if (m.type === 'video' && !out.video) {
      if (m.direction === 'recvonly' || m.direction === 'inactive') {
        throw new SdpError(`the video section is ${m.direction}: a publisher sends`);
      }
      out.video = { mid: midOf(m, i), rtpParameters: produceParameters(m, midOf(m, i)) };
    } else if (m.type === 'application' && !out.data) {
      out.data = { mid: midOf(m, i), maxMessageSize: m.maxMessageSize ?? m.sctpmap?.maxMessageSize ?? 65536 };
    }
  });
  if (!out.video) throw new SdpError('the offer has no m=video section');
  return out;
}

/** produce() parameters for the first H.264 (packetization-mode 1) or VP8 codec of a video section. */
function produceParameters(m: MediaDescription, mid: string): T.RtpParameters {
  const codecs = sectionCodecs(m);
  const media =
    codecs.find((c) => /\/h264$/i.test(c.mimeType) && Number(c.parameters?.['packetization-mode']) === 1) ??
    codecs.find((c) => /\/vp8$/i.test(c.mimeType));
  if (!media) {
    throw new SdpError(
      `no usable video codec in the offer (need H264 packetization-mode=1 or VP8; got ${codecs.map((c) => c.mimeType).join(', ') || 'none'})`,
    );
  }
  const rtx = codecs.find((c) => isRtx(c) && Number(c.parameters?.apt) === media.payloadType);
  const ssrcs = m.ssrcs ?? [];
  const fid = (m.ssrcGroups ?? []).find((g) => g.semantics === 'FID');
  const [mainSsrc, rtxSsrc] = fid
    ? fid.ssrcs.split(/\s+/).map(Number)
    : [ssrcs[0] ? Number(ssrcs[0].id) : undefined, undefined];
  if (mainSsrc === undefined || !Number.isFinite(mainSsrc)) {
    throw new SdpError('the video section has no a=ssrc (the hub needs the SSRC the publisher sends)');
  }
  // An SSRC is 32 bits: refuse a bigger one here (400 SDP_INVALID), before mediasoup's produce() sees it.
  for (const ssrc of [mainSsrc, rtxSsrc]) {
    if (ssrc !== undefined && !(Number.isInteger(ssrc) && ssrc >= 0 && ssrc <= 0xffffffff)) {
      throw new SdpError(`the video section's SSRC ${ssrc} is not a 32-bit unsigned integer`);
    }
  }
  const cname = ssrcs.find((s) => s.attribute === 'cname')?.value;
  const headerExtensions = (m.ext ?? [])
    .filter((e) => SUPPORTED_EXTENSIONS.has(e.uri) && (!e.direction || e.direction !== 'recvonly'))
    .map((e) => ({ uri: e.uri as T.RtpHeaderExtensionUri, id: e.value }));
  return {
    mid,
    codecs: rtx ? [media, rtx] : [media],
    headerExtensions,
    encodings: [{ ssrc: mainSsrc, ...(rtx && rtxSsrc ? { rtx: { ssrc: rtxSsrc } } : {}) }],
    rtcp: { cname, reducedSize: !!m.rtcpRsize },
  };
}

/** Session-level lines every hub SDP starts with. */
function sessionHead(transport: T.WebRtcTransport, mids: string[]): SessionDescription {
  const fp =
    transport.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256') ??
    transport.dtlsParameters.fingerprints[0]!;
  return {
    version: 0,
    origin: {
      username: 'sightline-hub',
      sessionId: String(Math.floor(Math.random() * 1e12)),
      sessionVersion: 2,
      netType: 'IN',
      ipVer: 4,
      address: '127.0.0.1',
    },
    name: '-',
    timing: { start: 0, stop: 0 },
    icelite: 'ice-lite',
    fingerprint: { type: fp.algorithm, hash: fp.value },
    msidSemantic: { semantic: 'WMS', token: '*' },
    groups: mids.length ? [{ type: 'BUNDLE', mids: mids.join(' ') }] : undefined,
    media: [],
  };
}

/** Transport-level attributes of one m= section (ICE, candidates, DTLS setup, rtcp-mux). */
function transportAttributes(transport: T.WebRtcTransport, setup: string): Partial<MediaDescription> {
  return {
    connection: { version: 4, ip: '127.0.0.1' },
    iceUfrag: transport.iceParameters.usernameFragment,
    icePwd: transport.iceParameters.password,
    candidates: transport.iceCandidates.map((c) => ({
      foundation: c.foundation,
      component: 1,
      transport: c.protocol,
      priority: c.priority,
      ip: c.address,
      port: c.port,
      type: c.type,
      ...(c.tcpType ? { tcptype: c.tcpType } : {}),
    })),
    endOfCandidates: 'end-of-candidates',
    iceOptions: 'renomination',
    setup,
  };
}

function firstPort(transport: T.WebRtcTransport): number {
  return transport.iceCandidates[0]?.port ?? 7;
}

/** RTP attributes (rtpmap, fmtp, rtcp-fb, extmap) for mediasoup codec parameters. */
function rtpAttributes(kind: string, rtp: T.RtpParameters): Partial<MediaDescription> {
  return {
    payloads: rtp.codecs.map((c) => c.payloadType).join(' '),
    rtp: rtp.codecs.map((c) => ({
      payload: c.payloadType,
      codec: c.mimeType.slice(kind.length + 1),
      rate: c.clockRate,
      ...(c.channels && c.channels > 1 ? { encoding: c.channels } : {}),
    })),
    fmtp: rtp.codecs
      .filter((c) => Object.keys(c.parameters ?? {}).length)
      .map((c) => ({ payload: c.payloadType, config: fmtpText(c.parameters) })),
    rtcpFb: rtp.codecs.flatMap((c) =>
      (c.rtcpFeedback ?? []).map((fb) => ({
        payload: c.payloadType,
        type: fb.type,
        ...(fb.parameter ? { subtype: fb.parameter } : {}),
      })),
    ),
    ext: (rtp.headerExtensions ?? []).map((e) => ({ value: e.id, uri: e.uri })),
    rtcpMux: 'rtcp-mux',
    rtcpRsize: 'rtcp-rsize',
  };
}

/** A rejected (port 0) copy of an offered section. */
function rejected(section: OfferSection, m: MediaDescription | undefined): MediaDescription {
  return {
    type: section.type,
    port: 0,
    protocol: section.protocol,
    payloads: m?.payloads ?? (section.type === 'application' ? 'webrtc-datachannel' : '0'),
    mid: section.mid,
    direction: 'inactive',
    // Some stacks (werift) read the SCTP port of every application section, rejected or not.
    ...(section.type === 'application' ? { sctpPort: SCTP_PORT } : {}),
  } as MediaDescription;
}

function dataSection(transport: T.WebRtcTransport, mid: string, setup: string): MediaDescription {
  return {
    type: 'application',
    port: firstPort(transport),
    protocol: 'UDP/DTLS/SCTP',
    payloads: 'webrtc-datachannel',
    mid,
    sctpPort: SCTP_PORT,
    maxMessageSize: transport.sctpParameters?.maxMessageSize ?? 262144,
    ...transportAttributes(transport, setup),
  } as MediaDescription;
}

/**
 * The hub's answer to a publisher's offer: ICE-lite, DTLS passive (active when they offered passive), the
 * accepted video codec as the producer got it (the offer's payload type and fmtp), recvonly, and the data
 * channel section; every other section rejected.
 */
export function writePublishAnswer(
  offerSdp: string,
  offer: PublishOffer,
  transport: T.WebRtcTransport,
  producer: { rtpParameters: T.RtpParameters },
  acceptData: boolean,
): string {
  const session = sdpTransform.parse(offerSdp);
  const setup = offer.dtlsParameters.role === 'server' ? 'active' : 'passive';
  const accepted = offer.sections
    .filter((s) => s.mid === offer.video?.mid || (acceptData && s.mid === offer.data?.mid))
    .map((s) => s.mid);
  const head = sessionHead(transport, accepted);
  head.media = offer.sections.map((s, i) => {
    const m = session.media[i];
    if (s.mid === offer.video?.mid) {
      return {
        type: 'video',
        port: firstPort(transport),
        protocol: 'UDP/TLS/RTP/SAVPF',
        mid: s.mid,
        direction: 'recvonly',
        ...transportAttributes(transport, setup),
        // The codec as offered (payload type, fmtp): mediasoup's copy may normalize parameters.
        ...rtpAttributes('video', {
          ...producer.rtpParameters,
          codecs: offer.video.rtpParameters.codecs,
          headerExtensions: offer.video.rtpParameters.headerExtensions,
        }),
      } as MediaDescription;
    }
    if (acceptData && s.mid === offer.data?.mid) return dataSection(transport, s.mid, setup);
    return rejected(s, m);
  });
  return sdpTransform.write(head);
}

/**
 * The hub's offer to a viewer: sendonly video with the consumer's parameters (payload type, SSRC, cname, fmtp,
 * RTCP feedback), and an m=application section for the `meta` data channel when there is a data consumer.
 */
export function writeViewerOffer(
  transport: T.WebRtcTransport,
  consumer: { id: string; rtpParameters: T.RtpParameters },
  withData: boolean,
  streamName: string,
): string {
  const mids = withData ? ['0', '1'] : ['0'];
  const head = sessionHead(transport, mids);
  const rtp = consumer.rtpParameters;
  const enc = rtp.encodings?.[0];
  const cname = rtp.rtcp?.cname ?? 'sightline';
  const streamMsid = streamName.replace(/[^\w-]/g, '-');
  const msid = `${streamMsid} ${consumer.id}`;
  const ssrcs: MediaAttributes['ssrcs'] = [];
  if (enc?.ssrc) {
    ssrcs.push(
      { id: enc.ssrc, attribute: 'cname', value: cname },
      { id: enc.ssrc, attribute: 'msid', value: msid },
    );
  }
  if (enc?.rtx?.ssrc) {
    ssrcs.push(
      { id: enc.rtx.ssrc, attribute: 'cname', value: cname },
      { id: enc.rtx.ssrc, attribute: 'msid', value: msid },
    );
  }
  head.media.push({
    type: 'video',
    port: firstPort(transport),
    protocol: 'UDP/TLS/RTP/SAVPF',
    mid: '0',
    direction: 'sendonly',
    msid: [{ id: streamMsid, appdata: consumer.id }],
    ...transportAttributes(transport, 'actpass'),
    ...rtpAttributes('video', rtp),
    ssrcs,
    ...(enc?.ssrc && enc.rtx?.ssrc
      ? { ssrcGroups: [{ semantics: 'FID', ssrcs: `${enc.ssrc} ${enc.rtx.ssrc}` }] }
      : {}),
  } as MediaDescription);
  if (withData) head.media.push(dataSection(transport, '1', 'actpass'));
  return sdpTransform.write(head);
}

/** What the hub reads from a viewer's answer: DTLS parameters, and whether the video section was accepted. */
export function parseViewerAnswer(sdp: string): { dtlsParameters: T.DtlsParameters } {
  const session = parseSdp(sdp);
  const video = session.media.find((m) => m.type === 'video');
  if (!video || video.port === 0) throw new SdpError('the answer rejects the video section');
  const dtls = remoteDtls(session);
  // We offered actpass: an answer must pick active or passive.
  const setup = video.setup ?? session.setup;
  if (setup === 'actpass') throw new SdpError('an answer must say a=setup:active or passive, not actpass');
  return { dtlsParameters: dtls };
}

/** What the hub needs from a WHEP offer: DTLS, the video section and the receive capabilities it states. */
export interface WhepOffer {
  sections: OfferSection[];
  dtlsParameters: T.DtlsParameters;
  video: { mid: string; index: number };
  rtpCapabilities: T.RtpCapabilities;
}

/** Parses a WHEP client's offer (recvonly video; other sections are rejected in the answer). */
export function parseWhepOffer(sdp: string): WhepOffer {
  const session = parseSdp(sdp);
  const dtlsParameters = remoteDtls(session);
  const sections = session.media.map((m, i) => ({ mid: midOf(m, i), type: m.type, protocol: m.protocol }));
  const index = session.media.findIndex((m) => m.type === 'video' && m.port !== 0);
  if (index < 0) throw new SdpError('the offer has no m=video section');
  const m = session.media[index]!;
  if (m.direction === 'sendonly' || m.direction === 'inactive') {
    throw new SdpError(`the video section is ${m.direction}: a WHEP player receives`);
  }
  const codecs: T.RtpCodecCapability[] = sectionCodecs(m).map((c) => ({
    kind: 'video',
    mimeType: c.mimeType as T.RtpCodecCapability['mimeType'],
    preferredPayloadType: c.payloadType,
    clockRate: c.clockRate,
    parameters: c.parameters,
    rtcpFeedback: c.rtcpFeedback,
  }));
  const headerExtensions: T.RtpHeaderExtension[] = (m.ext ?? [])
    .filter((e) => SUPPORTED_EXTENSIONS.has(e.uri))
    .map((e) => ({
      kind: 'video',
      uri: e.uri as T.RtpHeaderExtensionUri,
      preferredId: e.value,
      direction: 'sendrecv',
    }));
  return {
    sections,
    dtlsParameters,
    video: { mid: midOf(m, index), index },
    rtpCapabilities: { codecs, headerExtensions },
  };
}

/** The payload type a WHEP client offered for the consumer's codec (same codec and H.264 profile). */
export function offeredPayloadType(offer: WhepOffer, codec: T.RtpCodecParameters): number | undefined {
  return offer.rtpCapabilities.codecs?.find(
    (c) =>
      c.mimeType.toLowerCase() === codec.mimeType.toLowerCase() &&
      c.clockRate === codec.clockRate &&
      (!/h264$/i.test(codec.mimeType) ||
        (Number(c.parameters?.['packetization-mode'] ?? 0) ===
          Number(codec.parameters?.['packetization-mode'] ?? 0) &&
          String(c.parameters?.['profile-level-id'] ?? '42001f').slice(0, 2) ===
            String(codec.parameters?.['profile-level-id'] ?? '42001f').slice(0, 2))),
  )?.preferredPayloadType;
}

/** The hub's answer to a WHEP offer: sendonly video with the consumer's parameters; other sections rejected. */
export function writeWhepAnswer(
  offerSdp: string,
  offer: WhepOffer,
  transport: T.WebRtcTransport,
  consumer: { id: string; rtpParameters: T.RtpParameters },
): string {
  const session = sdpTransform.parse(offerSdp);
  const setup = offer.dtlsParameters.role === 'server' ? 'active' : 'passive';
  const head = sessionHead(transport, [offer.video.mid]);
  const rtp = consumer.rtpParameters;
  const enc = rtp.encodings?.[0];
  const cname = rtp.rtcp?.cname ?? 'sightline';
  const msid = `sightline ${consumer.id}`;
  head.media = offer.sections.map((s, i) => {
    if (i !== offer.video.index) return rejected(s, session.media[i]);
    return {
      type: 'video',
      port: firstPort(transport),
      protocol: 'UDP/TLS/RTP/SAVPF',
      mid: s.mid,
      direction: 'sendonly',
      msid: [{ id: 'sightline', appdata: consumer.id }],
      ...transportAttributes(transport, setup),
      ...rtpAttributes('video', rtp),
      ssrcs: enc?.ssrc
        ? [
            { id: enc.ssrc, attribute: 'cname', value: cname },
            { id: enc.ssrc, attribute: 'msid', value: msid },
          ]
        : [],
    } as MediaDescription;
  });
  return sdpTransform.write(head);
}
