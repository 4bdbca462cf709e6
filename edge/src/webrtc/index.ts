/** Live video of the edge's streams over WebRTC (docs/webrtc.md): RTP packetizer, publisher, hub client, WHIP ingest. */
export {
  FrameHold,
  type FrameHoldOptions,
  type FrameHoldStats,
  type HeldFrame,
  type HoldOutcome,
} from './frame-hold.ts';
export {
  EdgeMediaClient,
  type EdgeMediaClientOptions,
  type MediaClientStats,
  mediaUrl,
} from './media-client.ts';
export * from './rtp-h264.ts';
export type {
  MediaDroppedFrame,
  MediaRuntime,
  MediaRuntimeEvents,
  MediaRuntimeListener,
  MediaStreamInfo,
} from './runtime-contracts.ts';
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
export { checkWhipOffer, type OfferCheck, type OfferedH264, rtpInputSdp } from './whip-sdp.ts';
export {
  type WhipRuntime,
  WhipServer,
  type WhipServerOptions,
  type WhipSessionInfo,
} from './whip-server.ts';
