/**
 * What one hub tells the others about an edge connected to it: a JSON record per edge under
 * `<prefix>cluster:edge:<edgeId>`, written at hello and on every heartbeat, expiring `ttlMs` after the last write
 * (a hub that dies stops refreshing it), and deleted by the holding hub when the edge disconnects (only when that
 * hub still holds it: the edge may already have reconnected to another).
 */
import { type EdgePresence, EdgePresenceSchema } from '@sightline/shared';
import type { Redis } from 'ioredis';

/** An edge's live state as published by the hub holding its connection (shared/src/cluster.ts). */
export type RemoteLive = EdgePresence;

/** Cluster key names under `prefix`. */
export const clusterKeys = (prefix: string) => ({
  edge: (edgeId: string) => `${prefix}cluster:edge:${edgeId}`,
  /** The pub/sub channel a hub takes requests and answers on. */
  hub: (hubId: string) => `${prefix}cluster:hub:${hubId}`,
  /** The pub/sub channel every hub listens on (revocations). */
  all: `${prefix}cluster:all`,
});

/** KEYS[1] edge key; ARGV[1] hub id: deletes the record when that hub holds it. */
const WITHDRAW = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local ok, rec = pcall(cjson.decode, v)
if ok and rec['hubId'] == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

type WithWithdraw = Redis & { sightlineWithdraw(key: string, hubId: string): Promise<number> };

export async function publishPresence(
  redis: Redis,
  key: string,
  live: RemoteLive,
  ttlMs: number,
): Promise<void> {
  await redis.set(key, JSON.stringify(live), 'PX', Math.max(1, Math.ceil(ttlMs)));
}

export async function withdrawPresence(redis: Redis, key: string, hubId: string): Promise<void> {
  const r = redis as WithWithdraw;
  if (typeof r.sightlineWithdraw !== 'function')
    r.defineCommand('sightlineWithdraw', { numberOfKeys: 1, lua: WITHDRAW });
  await r.sightlineWithdraw(key, hubId);
}

/** The records of `ids` that exist and parse (EdgePresenceSchema); others are ignored (they expire). */
export async function readPresence(
  redis: Redis,
  ids: readonly string[],
  keyOf: (id: string) => string,
): Promise<Map<string, RemoteLive>> {
  const out = new Map<string, RemoteLive>();
  if (!ids.length) return out;
  const values = await redis.mget(...ids.map(keyOf));
  values.forEach((v, i) => {
    if (!v) return;
    try {
      const rec = EdgePresenceSchema.safeParse(JSON.parse(v));
      if (rec.success) out.set(ids[i]!, rec.data);
    } catch {
      // A record that is not JSON is ignored too (it expires).
    }
  });
  return out;
}
