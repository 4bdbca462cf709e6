/** Test support for the API suites: a hub on a test backend, a token of every role, and a fetch that signs as one. */
import { type HubServer, startHub } from '../src/server.ts';
import type { TokenRole } from '../src/store/schema.ts';
import type { TestLocation } from './backends.ts';

/** A request; `as` is a role (its token is sent) or a token itself. */
export type ApiCallInit = RequestInit & { as?: TokenRole | string };

/** A started hub, a token per role, and `call`. */
export interface ApiHub {
  hub: HubServer;
  /** A token of each role (`edge` is edge-1's credential). */
  token: Record<TokenRole, string>;
  /** fetch() against the hub, with the bearer token of `init.as` and a JSON content type for a body. */
  call(path: string, init?: ApiCallInit): Promise<Response>;
}

/** Starts a hub at `loc` with rate limits out of the way (1000/s) and creates one token of every role. */
export async function startApiHub(loc: TestLocation): Promise<ApiHub> {
  const hub = await startHub({ port: 0, ...loc, rateLimit: { ratePerSec: 1000, burst: 1000 } });
  const token: Partial<Record<TokenRole, string>> = {};
  for (const role of ['viewer', 'operator', 'admin', 'edge', 'enroll'] as const) {
    token[role] = (await hub.tokens.create({ role, edgeId: role === 'edge' ? 'edge-1' : undefined })).token;
  }
  const call = (path: string, init: ApiCallInit = {}) => {
    const headers = new Headers(init.headers);
    if (init.as) headers.set('authorization', `Bearer ${token[init.as as TokenRole] ?? init.as}`);
    if (init.body && !headers.has('content-type')) headers.set('content-type', 'application/json');
    return fetch(hub.url + path, { ...init, headers });
  };
  return { hub, token: token as Record<TokenRole, string>, call };
}
