/** The UDP side of the WHIP server: local RTP port pairs for FFmpeg's receiver, and the RTCP BYE that ends its input. */
import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';

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
  throw new Error('no free UDP port pair for RTP');
}
