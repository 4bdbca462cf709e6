/** What a stream publishes over WebRTC, from its stream info (and a keyframe when the SPS only comes in band). */
import type { StreamVideo } from '@sightline/shared';
import type { EncodedPacket } from '../frame.ts';
import type { StreamInfo } from '../sources/protocol.ts';
import { NAL, nalType, parameterSetsFromExtradata, profileLevelId, splitNalUnits } from './h264.ts';

/** The RFC 6184 profile-level-id of H.264 extradata (avcC or Annex-B), or undefined when it holds no usable SPS. */
export function profileLevelIdOfExtradata(extradata: Uint8Array): string | undefined {
  try {
    const sps = parameterSetsFromExtradata(extradata).sps[0];
    return sps ? profileLevelId(sps) : undefined;
  } catch {
    return undefined;
  }
}

/** The profile-level-id of the SPS carried in a packet (Annex-B or 4-byte AVCC), or undefined when it has none. */
export function profileLevelIdOfPacket(data: Uint8Array): string | undefined {
  try {
    const sps = splitNalUnits(data).find((n) => nalType(n) === NAL.SPS);
    return sps ? profileLevelId(sps) : undefined;
  } catch {
    return undefined;
  }
}

/** The published video of a stream: codec, profile-level-id (when known), whether and why it is re-encoded. */
export function videoFacts(info: StreamInfo, keyframe?: EncodedPacket): StreamVideo {
  const transcoded = info.transcoded !== undefined;
  const h264 = transcoded || info.codec === 'h264';
  let profile = h264 && !transcoded ? profileLevelIdOfExtradata(info.extradata) : undefined;
  if (!profile && keyframe && keyframe.codec === 'h264') profile = profileLevelIdOfPacket(keyframe.data);
  return {
    codec: h264 ? 'h264' : info.codec,
    ...(profile ? { profileLevelId: profile } : {}),
    transcoded,
    ...(info.transcoded ? { note: info.transcoded.reason } : {}),
  };
}
