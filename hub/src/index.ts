/** @sightline/hub: the hub's HTTP app and server. */
export { createHubApp, type HubAppOptions } from './app.ts';
export { type EdgeStatusReport, type EdgeView, FleetState, type FleetStateOptions } from './fleet-state.ts';
export { type HubServer, type HubServerOptions, startHub } from './server.ts';
