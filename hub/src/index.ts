/** @sightline/hub: the hub's HTTP API and server, uplink, fleet, metadata store, vector indexes and similar-track search. */
export { createHubApp, type HubAppOptions } from './app.ts';
export { RateLimiter, type RateLimiterOptions } from './auth/rate-limiter.ts';
export {
  type CreateTokenOptions,
  type TokenInfo,
  type TokenListing,
  TokenService,
} from './auth/token-service.ts';
export { type EdgeStatus, type EdgeView, FleetHub, type FleetHubOptions } from './fleet/fleet-hub.ts';
export {
  parseFmtp,
  parsePublishOffer,
  parseSdp,
  parseViewerAnswer,
  parseWhepOffer,
  SdpError,
} from './media/sdp-bridge.ts';
export {
  type SearchFilters,
  type SearchHit,
  type SearchQuery,
  SearchQueryError,
  SearchService,
  type SearchServiceOptions,
} from './search/search-service.ts';
export { type HubServer, type HubServerOptions, lockPath, runningHubPid, startHub } from './server.ts';
export * from './store/index.ts';
export * from './uplink/index.ts';
export { UplinkServer } from './uplink/uplink-server.ts';
export * from './vector-index/index.ts';
