/** The WHIP server's peer connection: H.264 as the publisher offered it (audio accepted and ignored), and its answer. */
import { RTCPeerConnection, RTCRtpCodecParameters, useOPUS, usePCMU } from 'werift';
import { skipDefaultStun, WERIFT_BUNDLE } from './werift-ice.ts';
import { HttpError } from './whip-http.ts';
import type { OfferedH264 } from './whip-sdp.ts';

export type IceServer = { urls: string; username?: string; credential?: string };

/** A peer connection that receives the offered H.264 format (its fmtp kept) with NACK, PLI and FIR. */
export function whipPeerConnection(h264: OfferedH264, iceServers: IceServer[]): RTCPeerConnection {
  return new RTCPeerConnection({
    bundlePolicy: WERIFT_BUNDLE,
    codecs: {
      video: [
        new RTCRtpCodecParameters({
          mimeType: 'video/H264',
          clockRate: 90_000,
          rtcpFeedback: [
            { type: 'nack' },
            { type: 'nack', parameter: 'pli' },
            { type: 'ccm', parameter: 'fir' },
          ],
          parameters: h264.fmtp,
        }),
      ],
      // Audio a publisher sends along is negotiated (so the offer is accepted) and ignored.
      audio: [useOPUS(), usePCMU()],
    },
    iceServers,
    iceUseIpv6: false,
  });
}

/** Apply `offer` and return the SDP answer; an offer that cannot be answered is 400 SDP_INVALID. Closes pc on failure. */
export async function answerOffer(
  pc: RTCPeerConnection,
  offer: string,
  iceServers: IceServer[],
): Promise<string> {
  try {
    await pc.setRemoteDescription({ type: 'offer', sdp: offer });
  } catch (err) {
    await pc.close().catch(() => {});
    throw new HttpError(400, 'SDP_INVALID', `the SDP offer cannot be answered: ${(err as Error).message}`);
  }
  try {
    if (!iceServers.some((x) => /^stuns?:/.test(x.urls))) skipDefaultStun(pc);
    await pc.setLocalDescription(await pc.createAnswer());
    return pc.localDescription?.sdp ?? '';
  } catch (err) {
    await pc.close().catch(() => {});
    throw err;
  }
}
