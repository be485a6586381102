import type { Redis } from 'ioredis';

/**
 * The Lua scripts behind the Redis layer, presence and connection counting. Each runs atomically
 * in Redis, which is what makes "save to history, then publish" one step per channel, and what
 * lets exactly one node clean up after a dead one. Time always comes from Redis (`TIME`), so every
 * node judges ages and expiry by the same clock.
 *
 * Scripts that build keys from their arguments (the reaper) assume one Redis server, not Redis
 * Cluster.
 */

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function int(n) return string.format('%.0f', n) end
`;

/** The instance part of epochs: created on first use, so a flushed Redis starts a new one. */
const INSTANCE = `
local function instance(key, candidate)
  local g = redis.call('GET', key)
  if g then return g end
  redis.call('SET', key, candidate)
  return candidate
end
`;

/** Takes one connection off a user's count in a channel; returns 1 when it was the user's last. */
const DROP_PRESENCE = `
local function dropPresence(usersKey, user)
  local v = redis.call('HGET', usersKey, user)
  if not v then return 0 end
  local bar = string.find(v, '|', 1, true)
  local count = tonumber(string.sub(v, 1, bar - 1)) - 1
  if count > 0 then
    redis.call('HSET', usersKey, user, int(count) .. string.sub(v, bar))
    return 0
  end
  redis.call('HDEL', usersKey, user)
  return 1
end
`;

/** Removes everything a node registered (presence entries, counted connections) and publishes a
 * leave for each user that was present only through it. */
const REAP = `
local function reap(prefix, node)
  local np = prefix .. 'np:' .. node
  local entries = redis.call('HGETALL', np)
  for i = 1, #entries, 2 do
    local field, user = entries[i], entries[i + 1]
    local colon = string.find(field, ':', 1, true)
    local channel = string.sub(field, colon + 1, colon + tonumber(string.sub(field, 1, colon - 1)))
    if dropPresence(prefix .. 'pu:' .. channel, user) == 1 then
      redis.call('PUBLISH', prefix .. 'c:' .. channel, 'p|leave|' .. user)
    end
  end
  redis.call('DEL', np)
  local nc = prefix .. 'nc:' .. node
  local conns = redis.call('HGETALL', nc)
  for i = 1, #conns, 2 do
    redis.call('HDEL', prefix .. 'uc:' .. conns[i + 1], conns[i])
  end
  redis.call('DEL', nc)
  redis.call('ZREM', prefix .. 'nodes', node)
end
`;

/**
 * KEYS: instance, meta, stream, idempotency key (not touched when ARGV[9] is '0').
 * ARGV: instance candidate, bucket ms, meta ttl ms, topic, event, json, history size, history ttl ms,
 *       idempotency ttl ms ('0': no key), event header.
 * Returns {epoch, offset, published (1) or already seen (0)}.
 */
const PUBLISH = `${NOW}${INSTANCE}
local g = instance(KEYS[1], ARGV[1])
local meta = redis.call('HMGET', KEYS[2], 'b', 'top')
local bucket, top = meta[1], tonumber(meta[2])
local idemTtl = tonumber(ARGV[9])
if bucket and idemTtl > 0 then
  local seen = redis.call('GET', KEYS[4])
  if seen then return {g .. '.' .. bucket, tonumber(seen), 0} end
end
if not bucket then
  bucket = int(math.floor(now / tonumber(ARGV[2])))
  top = 0
  -- A stream that outlived its meta belongs to an epoch nobody can name any more.
  redis.call('DEL', KEYS[3])
end
top = top + 1
local offset = int(top)
local size, ttl = tonumber(ARGV[7]), tonumber(ARGV[8])
if size > 0 and ttl > 0 then
  -- Written before the offset is stored: if XADD fails, no offset was used up (no gap).
  redis.call('XADD', KEYS[3], 'MAXLEN', size, offset, 'e', ARGV[5], 'd', ARGV[6], 't', int(now), 'x', int(now + ttl))
  if redis.call('PTTL', KEYS[3]) < ttl then redis.call('PEXPIRE', KEYS[3], ttl) end
end
-- Age limit: drop the expired head. Entries expire in order when a channel keeps one ttl, so
-- this stops at the first live one; the scan is bounded, reads skip whatever it left.
local head = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 1)[1]
if head and tonumber(head[2][8]) <= now then
  local start, cut, done, last = '-', nil, false, nil
  for _ = 1, 20 do
    local batch = redis.call('XRANGE', KEYS[3], start, '+', 'COUNT', 100)
    for i = 1, #batch do
      if tonumber(batch[i][2][8]) > now then cut = batch[i][1]; break end
    end
    if cut then break end
    if #batch < 100 then done = true; break end
    last = batch[#batch][1]
    start = '(' .. last
  end
  if cut then redis.call('XTRIM', KEYS[3], 'MINID', cut)
  elseif done then redis.call('DEL', KEYS[3])
  else redis.call('XTRIM', KEYS[3], 'MINID', int(tonumber(string.match(last, '^%d+')) + 1)) end
end
redis.call('HSET', KEYS[2], 'b', bucket, 'top', offset)
local metaTtl = math.max(tonumber(ARGV[3]), ttl)
if redis.call('PTTL', KEYS[2]) < metaTtl then redis.call('PEXPIRE', KEYS[2], metaTtl) end
if idemTtl > 0 then redis.call('SET', KEYS[4], offset, 'PX', idemTtl) end
local epoch = g .. '.' .. bucket
redis.call('PUBLISH', ARGV[4], 'm|' .. offset .. '|' .. int(now) .. '|' .. epoch .. '|' .. ARGV[10] .. ARGV[6])
return {epoch, top, 1}
`;

/**
 * Reads a channel's position and history in one step, so the position and the publications agree.
 * Creates no per-channel key: a channel never published to answers offset 0 in the epoch its first
 * publish will get.
 * KEYS: instance, meta, stream. ARGV: instance candidate, bucket ms, since epoch ('' none),
 * since offset, limit (-1: all), max chars of event names and data (-1: no bound; at least one
 * entry is returned when there is one).
 * Returns {epoch, top, complete (1/0), entries}; without since, entries are newest first.
 */
const HISTORY = `${NOW}${INSTANCE}
local g = instance(KEYS[1], ARGV[1])
local meta = redis.call('HMGET', KEYS[2], 'b', 'top')
local bucket, top = meta[1], tonumber(meta[2])
if not bucket then
  bucket = int(math.floor(now / tonumber(ARGV[2])))
  top = 0
end
local epoch = g .. '.' .. bucket
local limit = tonumber(ARGV[5])
local maxChars = tonumber(ARGV[6])
local function live(entry) return tonumber(entry[2][8]) > now end
-- Fields are e, event, d, data, ...: what counts against maxChars is #event + #data.
local function chars(entry) return #entry[2][2] + #entry[2][4] end
if ARGV[3] == '' then
  if limit == 0 or top == 0 then return {epoch, top, 1, {}} end
  local entries
  if limit < 0 then entries = redis.call('XREVRANGE', KEYS[3], '+', '-')
  else entries = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', limit) end
  local out, used = {}, 0
  for i = 1, #entries do
    if not live(entries[i]) then break end
    used = used + chars(entries[i])
    if maxChars >= 0 and used > maxChars and #out > 0 then break end
    out[#out + 1] = entries[i]
  end
  return {epoch, top, 1, out}
end
local since = tonumber(ARGV[4])
if ARGV[3] ~= epoch or since > top then return {epoch, top, 0, {}} end
if since == top then return {epoch, top, 1, {}} end
local first = int(since + 1)
local entries
if limit < 0 then entries = redis.call('XRANGE', KEYS[3], first, '+')
else entries = redis.call('XRANGE', KEYS[3], first, '+', 'COUNT', math.max(limit, 1)) end
local head = entries[1]
-- The publication right after since must still be there, or the gap cannot be filled.
if not head or head[1] ~= first .. '-0' or not live(head) then return {epoch, top, 0, {}} end
if limit == 0 then return {epoch, top, 1, {}} end
if maxChars < 0 then return {epoch, top, 1, entries} end
local out, used = {}, 0
for i = 1, #entries do
  used = used + chars(entries[i])
  if used > maxChars and #out > 0 then break end
  out[#out + 1] = entries[i]
end
return {epoch, top, 1, out}
`;

/**
 * Pins a subscribed channel's epoch (creates its meta at offset 0 if needed) and keeps the meta
 * alive while this node is subscribed, so a quiet channel's subscribers keep their epoch.
 * KEYS: meta, stream. ARGV: bucket ms, meta ttl ms.
 */
const PIN = `${NOW}
if redis.call('HSETNX', KEYS[1], 'b', int(math.floor(now / tonumber(ARGV[1])))) == 1 then
  redis.call('HSET', KEYS[1], 'top', 0)
  redis.call('DEL', KEYS[2])
end
local ttl = tonumber(ARGV[2])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
`;

/**
 * After every (re)connect: if the server is not the one the instance string was made on (it
 * restarted, maybe restoring a snapshot with older offsets), start a new instance, so every epoch
 * changes and no client resumes against rewound history.
 * KEYS: run id, instance. ARGV: the server's run id, instance candidate. Returns 1 when replaced.
 */
const CHECK_RUN = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[1], ARGV[1])
return 1
`;

/** KEYS: channel users, node entries. ARGV: entry field, user. Returns 1 when the user appeared. */
const PRESENCE_JOIN = `${NOW}
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return 0 end
local v = redis.call('HGET', KEYS[1], ARGV[2])
if v then
  local bar = string.find(v, '|', 1, true)
  redis.call('HSET', KEYS[1], ARGV[2], int(tonumber(string.sub(v, 1, bar - 1)) + 1) .. string.sub(v, bar))
  return 0
end
redis.call('HSET', KEYS[1], ARGV[2], '1|' .. int(now))
return 1
`;

/** KEYS: channel users, node entries. ARGV: entry field. Returns 1 when the user disappeared. */
const PRESENCE_LEAVE = `${NOW}${DROP_PRESENCE}
local user = redis.call('HGET', KEYS[2], ARGV[1])
if not user then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
return dropPresence(KEYS[1], user)
`;

/**
 * KEYS: nodes. ARGV: node, ttl ms, '1' when registering. Returns 0 when the node had been reaped
 * meanwhile (declared dead, or Redis lost its data): the caller must register its entries again.
 */
const HEARTBEAT = `${NOW}
local known = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], int(now + tonumber(ARGV[2])), ARGV[1])
if known or ARGV[3] == '1' then return 1 end
return 0
`;

/** KEYS: nodes. ARGV: prefix, at most this many nodes. Reaps nodes whose heartbeat ran out; as the
 * script is atomic, each dead node is reaped (and each leave published) exactly once. */
const REAP_EXPIRED = `${NOW}${DROP_PRESENCE}${REAP}
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
for i = 1, #dead do reap(ARGV[1], dead[i]) end
return dead
`;

/** KEYS: nodes. ARGV: prefix, node. A node leaving on purpose takes its entries with it. */
const REAP_NODE = `${NOW}${DROP_PRESENCE}${REAP}
reap(ARGV[1], ARGV[2])
return 1
`;

/** KEYS: user connections, node connections. ARGV: connection, node, max, user.
 * Returns the user's count with this connection, or minus the count when at the limit. */
const CONNECTION_ACQUIRE = `
local n = redis.call('HLEN', KEYS[1])
if n >= tonumber(ARGV[3]) then return -n end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
return n + 1
`;

/** KEYS: user connections, node connections. ARGV: connection. */
const CONNECTION_RELEASE = `
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`;

const definitions = {
  sbPublish: { numberOfKeys: 4, lua: PUBLISH },
  sbHistory: { numberOfKeys: 3, lua: HISTORY },
  sbPin: { numberOfKeys: 2, lua: PIN },
  sbCheckRun: { numberOfKeys: 2, lua: CHECK_RUN },
  sbPresenceJoin: { numberOfKeys: 2, lua: PRESENCE_JOIN },
  sbPresenceLeave: { numberOfKeys: 2, lua: PRESENCE_LEAVE },
  sbHeartbeat: { numberOfKeys: 1, lua: HEARTBEAT },
  sbReapExpired: { numberOfKeys: 1, lua: REAP_EXPIRED },
  sbReapNode: { numberOfKeys: 1, lua: REAP_NODE },
  sbConnectionAcquire: { numberOfKeys: 2, lua: CONNECTION_ACQUIRE },
  sbConnectionRelease: { numberOfKeys: 2, lua: CONNECTION_RELEASE },
} as const;

export type ScriptName = keyof typeof definitions;

type ScriptCall = (...keysThenArgs: (string | number)[]) => Promise<unknown>;

/** The scripts, defined on a connection; ioredis runs them by SHA and reloads them after a restart. */
export class Scripts {
  constructor(readonly redis: Redis) {
    for (const [name, definition] of Object.entries(definitions)) redis.defineCommand(name, definition);
  }

  run(name: ScriptName, keys: string[], args: (string | number)[]): Promise<unknown> {
    const call = (this.redis as unknown as Record<ScriptName, ScriptCall>)[name];
    return call.call(this.redis, ...keys, ...args);
  }
}
