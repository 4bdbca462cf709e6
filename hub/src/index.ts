/** @sightline/hub: the hub's HTTP API and server, uplink, fleet, metadata store and embedding search. */
export { createHubApp, type HubAppOptions } from './app.ts';
export { RateLimiter, type RateLimiterOptions } from './auth/rate-limiter.ts';
export {
  type CreateTokenOptions,
  type TokenInfo,
  type TokenListing,
  TokenService,
} from './auth/token-service.ts';
export { type EdgeStatus, type EdgeView, FleetHub, type FleetHubOptions } from './fleet/fleet-hub.ts';
export * from './index-search/index.ts';
export {
  parseFmtp,
  parsePublishOffer,
  parseSdp,
  parseViewerAnswer,
  parseWhepOffer,
  SdpError,
} from './media/sdp-bridge.ts';
export { SearchService } from './search/search-service.ts';
export { type HubServer, type HubServerOptions, lockPath, runningHubPid, startHub } from './server.ts';
export * from './store/index.ts';
export * from './uplink/index.ts';
export { UplinkServer } from './uplink/uplink-server.ts';
