/** Live video of the edge's streams over WebRTC (docs/webrtc.md): H.264 helpers, RTP packetizer, publisher, hub client. */
export {
  FrameHold,
  type FrameHoldOptions,
  type FrameHoldStats,
  type HeldFrame,
  type HoldOutcome,
} from './frame-hold.ts';
export * from './h264.ts';
export {
  EdgeMediaClient,
  type EdgeMediaClientOptions,
  type MediaClientStats,
  mediaUrl,
} from './media-client.ts';
export * from './rtp-h264.ts';
export {
  type FrameMeta,
  PublishError,
  type PublishedVideo,
  type PublisherState,
  type PublisherStats,
  StreamPublisher,
  type StreamPublisherEvents,
  type StreamPublisherOptions,
} from './stream-publisher.ts';
export { profileLevelIdOfExtradata, profileLevelIdOfPacket, videoFacts } from './video-facts.ts';
export { checkWhipOffer, type OfferCheck, type OfferedH264, rtpInputSdp } from './whip-sdp.ts';
export {
  type WhipRuntime,
  WhipServer,
  type WhipServerOptions,
  type WhipSessionInfo,
} from './whip-server.ts';
