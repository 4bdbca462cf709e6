/** The edge's network plumbing shared by the uplink, the media client and the sources: reconnect backoff, hub TLS. */
export { Backoff, type BackoffOptions } from './backoff.ts';
export {
  describeHubTlsError,
  type HubRequestInit,
  type HubResponse,
  type HubTls,
  hubRequest,
  loadHubCa,
  tlsConnectOptions,
} from './hub-tls.ts';
