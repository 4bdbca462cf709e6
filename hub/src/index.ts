/** @sightline/hub: the hub's HTTP app and server, metadata store and embedding index. */
export { createHubApp, type HubAppOptions } from './app.ts';
export { type EdgeStatusReport, type EdgeView, FleetState, type FleetStateOptions } from './fleet-state.ts';
export * from './index-search/index.ts';
export { type HubServer, type HubServerOptions, startHub } from './server.ts';
export * from './store/index.ts';
