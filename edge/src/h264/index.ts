/** H.264 facts shared by the sources, the runtime and the WebRTC publisher: NAL units, avcC, SPS profile, video facts. */
export * from './nal.ts';
export {
  profileLevelIdOfExtradata,
  profileLevelIdOfPacket,
  type VideoSourceInfo,
  videoFacts,
} from './video-facts.ts';
