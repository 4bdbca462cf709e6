/**
 * The UDP side of the WHIP server: local RTP port pairs for FFmpeg's receiver, forwarding a session's RTP to it, and
 * the RTCP BYE that ends its input.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { SightlineError } from '@sightline/shared';
import { startsKeyframe } from './rtp-h264.ts';

/**
 * RTCP BYE (RFC 3550 6.6) for `ssrc`, with a reason so it is 12 bytes (FFmpeg drops shorter packets): FFmpeg's RTP
 * demuxer ends its input with EOF when it gets one.
 */
export function rtcpBye(ssrc: number): Buffer {
  const b = Buffer.alloc(12);
  b[0] = 0x81;
  b[1] = 203;
  b.writeUInt16BE(2, 2);
  b.writeUInt32BE(ssrc >>> 0, 4);
  b[8] = 3;
  b.write('end', 9, 'latin1');
  return b;
}

function bindUdp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(port, '127.0.0.1', () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}

/** An even local UDP port whose successor (RTCP) is free too, as FFmpeg's RTP receiver binds both. */
export async function freeRtpPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const a = await bindUdp(0);
    const port = (a.address() as AddressInfo).port;
    if (port % 2 !== 0 || port >= 65535) {
      a.close();
      continue;
    }
    try {
      const b = await bindUdp(port + 1);
      b.close();
      a.close();
      return port;
    } catch {
      a.close();
    }
  }
  throw new SightlineError('RTP_PORTS_EXHAUSTED', 'no free UDP port pair for RTP');
}

/** Forwards one WHIP session's video RTP to FFmpeg's receiver on 127.0.0.1:`port`, from the first keyframe on. */
export class RtpForwarder {
  readonly port: number;
  readonly #pt: number;
  readonly #socket: Socket;
  #packets = 0;
  #keyframes = 0;
  #ssrc: number | undefined;

  /** `pt`: the payload type FFmpeg's SDP names (every packet is sent with it); `onError`: a send failed. */
  constructor(port: number, pt: number, onError: (err: Error) => void) {
    this.port = port;
    this.#pt = pt;
    this.#socket = createSocket('udp4');
    this.#socket.on('error', onError);
  }

  /** RTP packets forwarded. */
  get packets(): number {
    return this.#packets;
  }

  /** Keyframe starts seen. */
  get keyframes(): number {
    return this.#keyframes;
  }

  /** The publisher's media SSRC, once its first packet came. */
  get ssrc(): number | undefined {
    return this.#ssrc;
  }

  /** Note the SSRC of an arriving packet; true for the first packet (the SSRC is then known). */
  learn(ssrc: number): boolean {
    if (this.#ssrc !== undefined) return false;
    this.#ssrc = ssrc;
    return true;
  }

  /** Send one RTP packet (rewritten to the SDP's payload type); nothing before the first keyframe (FFmpeg could only complain). */
  forward(packet: Buffer, payload: Uint8Array): void {
    if (startsKeyframe(payload)) this.#keyframes++;
    if (this.#keyframes === 0) return;
    packet[1] = (packet[1]! & 0x80) | this.#pt;
    this.#packets++;
    this.#socket.send(packet, this.port, '127.0.0.1');
  }

  /** Send RTCP BYEs now and every 100 ms (they end FFmpeg's input while it waits for RTP); returns what stops them. */
  startByes(): () => void {
    const bye = rtcpBye(this.#ssrc ?? 0);
    const send = () => this.#socket.send(bye, this.port, '127.0.0.1');
    send();
    const timer = setInterval(send, 100);
    return () => clearInterval(timer);
  }

  close(): void {
    this.#socket.close();
  }
}
