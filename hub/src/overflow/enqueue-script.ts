/**
 * Adds one request entry to a model stream and caps the stream in one step (a Lua script, atomic in Redis):
 * returns the new entry's id and how many of the entries the cap trimmed away no worker had taken yet (those are
 * never answered; the edge gives up on them at their deadline). Entries already taken may go too: a worker holds
 * what it took.
 */
import type { Redis } from 'ioredis';

/** KEYS[1] stream; ARGV[1] cap, ARGV[2] consumer group, ARGV[3..] field, value, ... */
const SCRIPT = `
local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 3))
local excess = redis.call('XLEN', KEYS[1]) - tonumber(ARGV[1])
if excess <= 0 then return {id, 0} end
local last = '0-0'
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local f = {}
  for i = 1, #g, 2 do f[g[i]] = g[i + 1] end
  if f['name'] == ARGV[2] then last = f['last-delivered-id'] end
end
local lm, ls = string.match(last, '(%d+)-(%d+)')
lm, ls = tonumber(lm), tonumber(ls)
local untaken = 0
for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', excess)) do
  local m, s = string.match(e[1], '(%d+)-(%d+)')
  m, s = tonumber(m), tonumber(s)
  if m > lm or (m == lm and s > ls) then untaken = untaken + 1 end
end
redis.call('XTRIM', KEYS[1], 'MAXLEN', ARGV[1])
return {id, untaken}
`;

type WithEnqueue = Redis & {
  sightlineEnqueue(
    key: string,
    cap: number,
    group: string,
    ...fields: (string | Buffer)[]
  ): Promise<[string, number]>;
};

/** XADD `fields` to `key`, then trim it to `cap` entries; resolves [entry id, untaken entries trimmed]. */
export function enqueue(
  redis: Redis,
  key: string,
  cap: number,
  group: string,
  fields: Record<string, string | Buffer>,
): Promise<[string, number]> {
  const r = redis as WithEnqueue;
  // defineCommand loads the script once (EVALSHA, falling back to EVAL after a Redis restart).
  if (typeof r.sightlineEnqueue !== 'function')
    r.defineCommand('sightlineEnqueue', { numberOfKeys: 1, lua: SCRIPT });
  return r.sightlineEnqueue(key, cap, group, ...Object.entries(fields).flat());
}
