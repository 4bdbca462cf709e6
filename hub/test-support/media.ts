/**
 * Test support for live video: H.264 access units from a real file (node-av's sync demuxer, no encode), an RTP
 * packetizer (single NAL units and FU-A), werift peers playing an edge, a viewer and a WHEP player, and a JSON
 * WebSocket for the signalling sockets.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RTCDataChannel } from 'werift';
import { MediaStreamTrack, RTCPeerConnection, RTCRtpCodecParameters, RtpHeader, RtpPacket } from 'werift';
import { WebSocket } from 'ws';

/** The test video (H.264 in MP4) of the shared media directory. */
export const H264_SAMPLE = join(
  process.env.SIGHTLINE_MEDIA_DIR ?? join(process.cwd(), '..', 'shared', 'media'),
  'vtest_h264.mp4',
);

/** One access unit: its NAL units (no start codes) and whether it is a keyframe. */
export interface AccessUnit {
  nals: Buffer[];
  key: boolean;
}

/** Reads up to `max` access units (SPS and PPS put before each keyframe) and the profile-level-id. */
export async function readAccessUnits(
  path = H264_SAMPLE,
  max = 75,
): Promise<{ units: AccessUnit[]; profileLevelId: string }> {
  if (!existsSync(path)) throw new Error(`no test video at ${path}`);
  const { Demuxer } = await import('node-av');
  const input = Demuxer.openSync(path);
  try {
    const video = input.video();
    if (!video) throw new Error(`${path} has no video`);
    const extradata = video.codecpar.extradata;
    if (extradata?.[0] !== 1) throw new Error('expected avcC extradata');
    const lengthSize = (extradata[4]! & 3) + 1;
    const params: Buffer[] = [];
    let o = 5;
    const nSps = extradata[o++]! & 0x1f;
    for (let i = 0; i < nSps; i++) {
      const n = extradata.readUInt16BE(o);
      params.push(Buffer.from(extradata.subarray(o + 2, o + 2 + n)));
      o += 2 + n;
    }
    const nPps = extradata[o++]!;
    for (let i = 0; i < nPps; i++) {
      const n = extradata.readUInt16BE(o);
      params.push(Buffer.from(extradata.subarray(o + 2, o + 2 + n)));
      o += 2 + n;
    }
    const sps = params[0]!;
    const profileLevelId = sps.subarray(1, 4).toString('hex');
    const units: AccessUnit[] = [];
    for (const packet of input.packetsSync(video.index)) {
      if (!packet) break;
      if (packet.streamIndex !== video.index || !packet.data) continue;
      const data = Buffer.from(packet.data);
      const nals: Buffer[] = [];
      for (let p = 0; p + lengthSize <= data.length; ) {
        const n = data.readUIntBE(p, lengthSize);
        nals.push(data.subarray(p + lengthSize, p + lengthSize + n));
        p += lengthSize + n;
      }
      const key = nals.some((n) => (n[0]! & 0x1f) === 5);
      units.push({ nals: key ? [...params, ...nals] : nals, key });
      packet.free?.();
      if (units.length >= max) break;
    }
    return { units, profileLevelId };
  } finally {
    input.closeSync();
  }
}

/** RTP payloads of one access unit: single NAL unit packets, FU-A for NALs over `mtu` bytes. */
export function packetize(unit: AccessUnit, mtu = 1100): Buffer[] {
  const out: Buffer[] = [];
  for (const nal of unit.nals) {
    if (nal.length <= mtu) {
      out.push(nal);
      continue;
    }
    const header = nal[0]!;
    const indicator = (header & 0xe0) | 28;
    for (let p = 1; p < nal.length; p += mtu) {
      const start = p === 1 ? 0x80 : 0;
      const end = p + mtu >= nal.length ? 0x40 : 0;
      out.push(
        Buffer.concat([Buffer.from([indicator, start | end | (header & 0x1f)]), nal.subarray(p, p + mtu)]),
      );
    }
  }
  return out;
}

/** The H.264 codec a werift peer offers (payload type `pt`). */
export function h264Codec(pt: number, profileLevelId = '42e01f'): RTCRtpCodecParameters {
  return new RTCRtpCodecParameters({
    mimeType: 'video/H264',
    clockRate: 90000,
    payloadType: pt,
    rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }],
    parameters: `packetization-mode=1;profile-level-id=${profileLevelId};level-asymmetry-allowed=1`,
  });
}

/** Waits until `check` holds (polling), or fails after `ms`. */
export async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A werift peer publishing H.264 and a negotiated `meta` data channel (id 0), as an edge does. */
export class FakeEdgePeer {
  readonly pc: RTCPeerConnection;
  readonly track = new MediaStreamTrack({ kind: 'video' });
  readonly meta?: RTCDataChannel;
  #seq = Math.floor(Math.random() * 30000);
  #ts = Math.floor(Math.random() * 2 ** 31);

  constructor(
    readonly pt = 96,
    profileLevelId = '42e01f',
    withMeta = true,
  ) {
    this.pc = new RTCPeerConnection({
      bundlePolicy: 'max-bundle',
      codecs: { video: [h264Codec(pt, profileLevelId)] },
    });
    this.pc.addTransceiver(this.track, { direction: 'sendonly' });
    if (withMeta) this.meta = this.pc.createDataChannel('meta', { negotiated: true, id: 0, ordered: true });
  }

  async offer(): Promise<string> {
    await this.pc.setLocalDescription(await this.pc.createOffer());
    return this.pc.localDescription!.sdp;
  }

  async answer(sdp: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
  }

  /** Sends one access unit (metadata first when given), 90 kHz timestamps at 25 fps. */
  sendUnit(unit: AccessUnit, meta?: string): number {
    const ts = this.#ts >>> 0;
    if (meta !== undefined && this.meta?.readyState === 'open') this.meta.send(meta);
    const payloads = packetize(unit);
    payloads.forEach((payload, i) => {
      const header = new RtpHeader({
        payloadType: this.pt,
        sequenceNumber: this.#seq++ & 0xffff,
        timestamp: ts,
        marker: i === payloads.length - 1,
      });
      this.track.writeRtp(new RtpPacket(header, payload));
    });
    this.#ts += 3600;
    return ts;
  }

  async close(): Promise<void> {
    await this.pc.close();
  }
}

/** A werift peer answering the hub's offer (viewer) and counting what arrives. */
export class FakeViewerPeer {
  readonly pc: RTCPeerConnection;
  readonly meta: RTCDataChannel;
  readonly rtp: { pt: number; ssrc: number; ts: number; at: number }[] = [];
  readonly messages: string[] = [];

  constructor(pt = 96) {
    this.pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', codecs: { video: [h264Codec(pt)] } });
    this.meta = this.pc.createDataChannel('meta', { negotiated: true, id: 0, ordered: true });
    this.meta.onMessage.subscribe((m) => this.messages.push(typeof m === 'string' ? m : m.toString()));
    this.pc.onTrack.subscribe((track) => {
      track.onReceiveRtp.subscribe((p) =>
        this.rtp.push({
          pt: p.header.payloadType,
          ssrc: p.header.ssrc,
          ts: p.header.timestamp,
          at: Date.now(),
        }),
      );
    });
  }

  /** Answers the hub's offer. */
  async answer(offer: string): Promise<string> {
    await this.pc.setRemoteDescription({ type: 'offer', sdp: offer });
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    return this.pc.localDescription!.sdp;
  }

  async close(): Promise<void> {
    await this.pc.close();
  }
}

/** A JSON WebSocket with a queue of received messages. */
export class JsonSocket {
  readonly ws: WebSocket;
  readonly got: Record<string, unknown>[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly opened: Promise<void>;
  constructor(url: string, token?: string) {
    this.ws = new WebSocket(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    this.ws.on('message', (d) => this.got.push(JSON.parse(String(d))));
    this.opened = new Promise((ok, fail) => {
      this.ws.once('open', () => ok());
      this.ws.once('error', fail);
      this.ws.once('unexpected-response', (_req, res) => fail(new Error(`HTTP ${res.statusCode}`)));
    });
    this.closed = new Promise((ok) =>
      this.ws.once('close', (code, reason) => ok({ code, reason: String(reason) })),
    );
    this.closed.catch(() => {});
    this.opened.catch(() => {});
  }
  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }
  /** The first message (after `from`) matching `pred`. */
  async next(
    pred: (m: Record<string, unknown>) => boolean,
    ms = 5000,
    from = 0,
  ): Promise<Record<string, unknown>> {
    let found: Record<string, unknown> | undefined;
    await until(
      () => {
        found = this.got.slice(from).find(pred);
        return !!found;
      },
      ms,
      'a message',
    );
    return found!;
  }
  close(): void {
    this.ws.close();
  }
}
