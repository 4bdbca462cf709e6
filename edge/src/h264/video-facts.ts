/** What a stream publishes over WebRTC, from its stream info (and a keyframe when the SPS only comes in band). */
import type { StreamVideo } from '@sightline/shared';
import type { EncodedPacket } from '../frame.ts';
import { NAL, nalType, parameterSetsFromExtradata, profileLevelId, splitNalUnits } from './nal.ts';

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

/** The stream facts videoFacts reads (a source's StreamInfo has them). */
export interface VideoSourceInfo {
  /** FFmpeg codec name, e.g. "h264". */
  codec: string;
  /** Codec extradata (avcC or Annex-B SPS/PPS); empty when none or unknown. */
  extradata: Uint8Array;
  /** Set when the decoded frames are re-encoded to H.264: from what, and why. */
  transcoded?: { from: string; reason: string };
}

/** The published video of a stream: codec, profile-level-id (when known), whether and why it is re-encoded. */
export function videoFacts(info: VideoSourceInfo, keyframe?: EncodedPacket): StreamVideo {
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
