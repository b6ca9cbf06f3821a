"""The Lua scripts of :mod:`newsbot.state.redis_store`.

Every change that must be atomic across workers is one script: Redis runs a script alone, so two
workers can never both take an article, both publish it, or both reap a dead worker. Scripts take
the key prefix as ``ARGV[1]`` and build key names themselves (a single Redis server, not a
cluster). Keys, under the prefix ``P``:

========================  =====================================================================
``P:a``                   hash, article id → JSON record (``s`` state, ``r`` reason, ``n``
                          attempts, ``v`` revision, ``h`` content hash, ``p`` published_at,
                          ``d`` URL date, ``c`` column, ``f`` file, ``w`` worker, ``t``/``u``
                          discovered/updated)
``P:counts``              hash, state → articles; ``P:reasons`` hash, ``state:reason`` → count
``P:open``                set of pending and failed ids (what a run may still owe)
``P:recent``              sorted set of exported ids by publication time (rechecks)
``P:texts``, ``P:marks``  text fingerprint → first id; column → high-water mark
``P:files``               hash, published file → ``{n: records, t: when, w: worker}``
``P:requests``            the shared request queue (scrapy-redis priority queue); members are
                          ``ARTICLE_ID|FORCE|REQUEST`` (``|0|REQUEST`` for other requests)
``P:queued``              set of article ids with a request in the queue
``P:own``                 hash, article id → ``{w: worker, ph: phase, m: "SCORE MEMBER"}``;
                          phase ``f`` fetching, ``w`` written to an unpublished file, ``p``
                          being published (an intent is out)
``P:orphans``             ids handed back without a request to requeue: a live worker asks for
                          them again
``P:intents``             hash, intent id → publish intent (worker, host, files)
``P:temps``               hash, temporary file → ``{w, host}``
``P:workers``             set of worker ids; per worker ``P:w:ID:alive`` (token, expires),
                          ``:leases`` (popped non-article requests), ``:own`` (its articles),
                          ``:f`` (those it is fetching), ``:idle`` (nothing to do), ``:info``
``P:job``                 the crawl the workers share: id, arguments, creator, seeding
``P:dupefilter:JOB``      scrapy-redis's request fingerprints, one set per job
========================  =====================================================================
"""

from __future__ import annotations

PRELUDE = r"""
local P = ARGV[1]
local NAMES = {[0] = 'pending', [1] = 'exported', [2] = 'dropped', [3] = 'failed'}
local function k(name) return P .. ':' .. name end
local function wk(w, name) return P .. ':w:' .. w .. ':' .. name end
local function nn(v) if v == cjson.null then return nil end return v end

local function rec_get(id)
  local raw = redis.call('HGET', k('a'), id)
  if raw then return cjson.decode(raw) end
  return nil
end
local function rec_put(id, r) redis.call('HSET', k('a'), id, cjson.encode(r)) end
local function settled(r) return r ~= nil and (r.s == 1 or r.s == 2) end

local function set_state(id, r, new, reason)
  if r.s ~= nil then
    redis.call('HINCRBY', k('counts'), NAMES[r.s], -1)
    if r.r then redis.call('HINCRBY', k('reasons'), NAMES[r.s] .. ':' .. r.r, -1) end
  end
  r.s = new
  r.r = reason
  redis.call('HINCRBY', k('counts'), NAMES[new], 1)
  if reason then redis.call('HINCRBY', k('reasons'), NAMES[new] .. ':' .. reason, 1) end
  if new == 0 or new == 3 then
    redis.call('SADD', k('open'), id)
  else
    redis.call('SREM', k('open'), id)
  end
end

local function alive(w) return redis.call('EXISTS', wk(w, 'alive')) == 1 end
local function is_me(w, token) return redis.call('GET', wk(w, 'alive')) == token end

local function owner(id)
  local raw = redis.call('HGET', k('own'), id)
  if raw then return cjson.decode(raw) end
  return nil
end
local function own(id, w, ph, m)
  redis.call('HSET', k('own'), id, cjson.encode({w = w, ph = ph, m = m}))
  redis.call('SADD', wk(w, 'own'), id)
  if ph == 'f' then redis.call('SADD', wk(w, 'f'), id) else redis.call('SREM', wk(w, 'f'), id) end
end
local function disown(id, o)
  redis.call('HDEL', k('own'), id)
  redis.call('SREM', wk(o.w, 'own'), id)
  redis.call('SREM', wk(o.w, 'f'), id)
end

local function requeue(sm)
  local sp = string.find(sm, ' ', 1, true)
  local member = string.sub(sm, sp + 1)
  local aid = string.sub(member, 1, string.find(member, '|', 1, true) - 1)
  if aid ~= '' then
    if redis.call('SISMEMBER', k('queued'), aid) == 1 then return end
    redis.call('SADD', k('queued'), aid)
  end
  redis.call('ZADD', k('requests'), string.sub(sm, 1, sp - 1), member)
end

-- An article its worker no longer works on goes back to the queue (or to the orphans).
local function hand_back(id, o)
  disown(id, o)
  if settled(rec_get(id)) then return end
  if o.m and o.m ~= '' then requeue(o.m) else redis.call('SADD', k('orphans'), id) end
end

-- Everything a worker holds goes back, except articles in a publish that is out.
local function clear_worker(w)
  local leases = redis.call('HVALS', wk(w, 'leases'))
  for _, sm in ipairs(leases) do requeue(sm) end
  redis.call('DEL', wk(w, 'leases'))
  local handed, held = 0, 0
  for _, id in ipairs(redis.call('SMEMBERS', wk(w, 'own'))) do
    local o = owner(id)
    if o == nil or o.w ~= w then
      redis.call('SREM', wk(w, 'own'), id)
    elseif o.ph == 'p' then
      held = held + 1
    else
      hand_back(id, o)
      handed = handed + 1
    end
  end
  redis.call('DEL', wk(w, 'f'), wk(w, 'idle'))
  return {#leases, handed, held}
end

-- Mark the records of published files exported (entries: [[file, [delivery, ...]], ...]).
local function give(dest, id, rev)
  local key = k('dest:' .. dest)
  local had = tonumber(redis.call('HGET', key, id) or '0')
  if rev > had then redis.call('HSET', key, id, rev) end
end

local function publish(w, entries, now)
  local n = 0
  for _, e in ipairs(entries) do
    local file = nn(e[1])
    local dest = nn(e[3])
    if file then
      redis.call('HSET', k('files'), file, cjson.encode({n = #e[2], t = now, w = w}))
    end
    for _, d in ipairs(e[2]) do
      local id = tostring(d[1])
      local rev = tonumber(d[3])
      local r = rec_get(id) or {t = now, n = 0, v = 0}
      if rev >= (r.v or 0) then
        local same = r.s == 1 and rev == r.v and r.f ~= nil
        r.v = rev
        r.h = d[2]
        r.u = now
        if nn(d[4]) then r.p = d[4] end
        if nn(d[5]) then r.d = d[5] end
        if r.c == nil and nn(d[6]) then r.c = d[6] end
        if not same then
          r.f = file
          r.w = w
        end
        set_state(id, r, 1, nil)
        rec_put(id, r)
        if r.p then redis.call('ZADD', k('recent'), r.p, id) end
      end
      if dest then give(dest, id, rev) end
      local o = owner(id)
      if o and o.w == w then disown(id, o) end
      n = n + 1
    end
  end
  return n
end
"""

#: ARGV: P, worker, token, lease_ms, host, pid, now → 1 registered, 0 id in use.
REGISTER = r"""
local w = ARGV[2]
if not redis.call('SET', wk(w, 'alive'), ARGV[3], 'NX', 'PX', ARGV[4]) then return {0} end
redis.call('SADD', k('workers'), w)
redis.call('HSET', wk(w, 'info'), 'host', ARGV[5], 'pid', ARGV[6], 'started', ARGV[7])
-- An earlier process under this id died: what it held goes back first.
local back = clear_worker(w)
return {1, back[1], back[2], back[3]}
"""

#: ARGV: P, worker, token, lease_ms → 1 renewed, 0 lost (expired, and maybe reaped).
HEARTBEAT = r"""
if is_me(ARGV[2], ARGV[3]) then
  redis.call('PEXPIRE', wk(ARGV[2], 'alive'), ARGV[4])
  return 1
end
return 0
"""

#: ARGV: P, worker, arguments (JSON), now, create_only → {how, job id, job arguments}.
JOIN = r"""
local w = ARGV[2]
local jid = redis.call('HGET', k('job'), 'id')
if jid then
  if ARGV[5] == '1' then return {'busy', jid, redis.call('HGET', k('job'), 'args')} end
  redis.call('HSET', wk(w, 'info'), 'job', jid)
  return {'joined', jid, redis.call('HGET', k('job'), 'args')}
end
jid = tostring(redis.call('INCR', k('seq')))
redis.call('HSET', k('job'), 'id', jid, 'args', ARGV[3], 'created', ARGV[4], 'creator', w,
           'seeding', w)
redis.call('HSET', wk(w, 'info'), 'job', jid)
return {'created', jid, ARGV[3]}
"""

#: ARGV: P, worker → the job's start requests are all in the queue.
END_SEEDING = r"""
if redis.call('HGET', k('job'), 'seeding') == ARGV[2] then
  redis.call('HSET', k('job'), 'seeding', '')
end
return 1
"""

#: ARGV: P, worker, score, member, article id, force, lease → 1 queued, 0 not needed.
PUSH = r"""
local w, aid, lease = ARGV[2], ARGV[5], ARGV[7]
if aid ~= '' then
  redis.call('SREM', k('orphans'), aid)
  local o = owner(aid)
  if o then
    -- Only the worker fetching it may put it back (a retry, a redirect); anyone else
    -- finding the article again does not fetch it twice.
    if lease == 'own' and o.w == w and o.ph == 'f' then disown(aid, o) else return 0 end
  end
  if redis.call('SISMEMBER', k('queued'), aid) == 1 then return 0 end
  if ARGV[6] ~= '1' and settled(rec_get(aid)) then return 0 end
  redis.call('SADD', k('queued'), aid)
elseif lease ~= '' then
  -- A request derived from a leased one (a retry, a redirect) replaces it in the queue.
  redis.call('HDEL', wk(w, 'leases'), lease)
end
redis.call('ZADD', k('requests'), ARGV[3], ARGV[4])
return 1
"""

#: ARGV: P, worker, max skips → {1, member, lease} | {0} empty | {2} only skipped ones.
POP = r"""
local w = ARGV[2]
for _ = 1, tonumber(ARGV[3]) do
  local got = redis.call('ZPOPMIN', k('requests'))
  if #got == 0 then return {0} end
  local member, score = got[1], got[2]
  local bar = string.find(member, '|', 1, true)
  local aid = string.sub(member, 1, bar - 1)
  redis.call('DEL', wk(w, 'idle'))
  if aid == '' then
    local lease = tostring(redis.call('INCR', k('seq')))
    redis.call('HSET', wk(w, 'leases'), lease, score .. ' ' .. member)
    return {1, member, lease}
  end
  redis.call('SREM', k('queued'), aid)
  local skip = owner(aid) ~= nil
  if not skip and string.sub(member, bar + 1, bar + 1) ~= '1' then skip = settled(rec_get(aid)) end
  if not skip then
    own(aid, w, 'f', score .. ' ' .. member)
    return {1, member, 'own'}
  end
  redis.call('HINCRBY', k('stats'), 'pop_skipped', 1)
end
return {2}
"""

#: ARGV: P, worker, lease.
RELEASE_LEASE = r"""
return redis.call('HDEL', wk(ARGV[2], 'leases'), ARGV[3])
"""

#: ARGV: P, worker, id → the worker stops fetching the article (nothing to export).
RELEASE = r"""
local o = owner(ARGV[3])
if o and o.w == ARGV[2] and o.ph == 'f' then
  disown(ARGV[3], o)
  return 1
end
return 0
"""

#: ARGV: P, worker, token, id, revision → ok | elsewhere | exported | lost.
CLAIM = r"""
local w, id = ARGV[2], ARGV[4]
if not is_me(w, ARGV[3]) then return 'lost' end
local o = owner(id)
if o then
  if o.w ~= w then return 'elsewhere' end
  if o.ph == 'f' then own(id, w, 'w', o.m) end
  return 'ok'
end
local r = rec_get(id)
if r and r.s == 1 and (r.v or 0) >= tonumber(ARGV[5]) then return 'exported' end
own(id, w, 'w', '')
return 'ok'
"""

#: ARGV: P, worker, token, intent body, n, ids x n, revisions x n → {ok, intent} | {conflict,
#: id} | {lost}.
BEGIN_PUBLISH = r"""
local w, n = ARGV[2], tonumber(ARGV[5])
if not is_me(w, ARGV[3]) then return {'lost'} end
for i = 1, n do
  local id, rev = ARGV[5 + i], tonumber(ARGV[5 + n + i])
  local o = owner(id)
  if o then
    if o.w ~= w then return {'conflict', id} end
  else
    -- Not ours any more: fine only if we published it already (a second feed of this run).
    local r = rec_get(id)
    if not (r and r.s == 1 and r.w == w and (r.v or 0) >= rev) then return {'conflict', id} end
  end
end
for i = 1, n do
  local id = ARGV[5 + i]
  local o = owner(id)
  if o then own(id, w, 'p', o.m) end
end
local iid = tostring(redis.call('INCR', k('seq')))
redis.call('HSET', k('intents'), iid, ARGV[4])
return {'ok', iid}
"""

#: ARGV: P, worker, intent id ('' for none), now, entries JSON → records marked exported.
FINISH_PUBLISH = r"""
local n = publish(ARGV[2], cjson.decode(ARGV[5]), tonumber(ARGV[4]))
if ARGV[3] ~= '' then redis.call('HDEL', k('intents'), ARGV[3]) end
return n
"""

#: ARGV: P, worker, intent id, ids... → the files were not published: back to phase w.
ABANDON_PUBLISH = r"""
local w = ARGV[2]
for i = 4, #ARGV do
  local o = owner(ARGV[i])
  if o and o.w == w and o.ph == 'p' then own(ARGV[i], w, 'w', o.m) end
end
redis.call('HDEL', k('intents'), ARGV[3])
return 1
"""

#: ARGV: P, dead worker, intent id, now, published entries JSON, unpublished ids JSON.
SETTLE = r"""
local w = ARGV[2]
if redis.call('HEXISTS', k('intents'), ARGV[3]) == 0 then return {0, 0} end
local published = publish(w, cjson.decode(ARGV[5]), tonumber(ARGV[4]))
local back = 0
for _, id in ipairs(cjson.decode(ARGV[6])) do
  local o = owner(id)
  if o and o.w == w then
    hand_back(id, o)
    back = back + 1
  end
end
redis.call('HDEL', k('intents'), ARGV[3])
return {published, back}
"""

#: ARGV: P, dead worker → {reaped?, leases requeued, articles handed back, held in intents}.
REAP = r"""
local w = ARGV[2]
if alive(w) then return {0, 0, 0, 0} end
if redis.call('SREM', k('workers'), w) == 0 then return {0, 0, 0, 0} end
local back = clear_worker(w)
redis.call('DEL', wk(w, 'info'))
return {1, back[1], back[2], back[3]}
"""

#: ARGV: P, worker, token, joined → {leases requeued, articles handed back, job ended?}.
RETIRE = r"""
local w = ARGV[2]
local back = clear_worker(w)
if is_me(w, ARGV[3]) then redis.call('DEL', wk(w, 'alive')) end
redis.call('SREM', k('workers'), w)
redis.call('DEL', wk(w, 'info'))
local ended = 0
if ARGV[4] == '1' and redis.call('SCARD', k('workers')) == 0
   and redis.call('ZCARD', k('requests')) == 0 then
  -- The crawl is over. What is still owed is pending in the state: the next job resumes it.
  local jid = redis.call('HGET', k('job'), 'id')
  if jid then redis.call('DEL', k('job'), k('dupefilter:' .. jid)) end
  redis.call('DEL', k('orphans'), k('queued'))
  ended = 1
end
return {back[1], back[2], ended}
"""

#: ARGV: P, worker, job id, lease_ms → what an idle worker should do: gone | work | orphans |
#: wait | reap | done.
VERDICT = r"""
local w = ARGV[2]
-- Marked idle until it pops again (or dies): others need not wait for its written records.
redis.call('SET', wk(w, 'idle'), '1', 'PX', ARGV[4])
if redis.call('HGET', k('job'), 'id') ~= ARGV[3] then return 'gone' end
if redis.call('ZCARD', k('requests')) > 0 then return 'work' end
if redis.call('SCARD', k('orphans')) > 0 then return 'orphans' end
local seeding = redis.call('HGET', k('job'), 'seeding')
if seeding and seeding ~= '' and seeding ~= w and alive(seeding) then return 'wait' end
for _, o in ipairs(redis.call('SMEMBERS', k('workers'))) do
  if o ~= w then
    if not alive(o) then return 'reap' end
    -- Requests and articles in another worker's hands may still produce work, or come back
    -- if it dies. Records it wrote wait for its feed to close: if it is idle too, it is
    -- closing (two idle workers must not wait for each other); if not, it may have died.
    if redis.call('HLEN', wk(o, 'leases')) > 0 or redis.call('SCARD', wk(o, 'f')) > 0 then
      return 'wait'
    end
    if redis.call('SCARD', wk(o, 'own')) > 0 and redis.call('EXISTS', wk(o, 'idle')) == 0 then
      return 'wait'
    end
  end
end
return 'done'
"""

#: ARGV: P, id, url date, column, now → 1 new, 0 known.
DISCOVERED = r"""
local id = ARGV[2]
local r = rec_get(id)
if r == nil then
  r = {t = tonumber(ARGV[5]), u = tonumber(ARGV[5]), n = 0, v = 0}
  if ARGV[3] ~= '' then r.d = tonumber(ARGV[3]) end
  if ARGV[4] ~= '' then r.c = ARGV[4] end
  set_state(id, r, 0, nil)
  rec_put(id, r)
  return 1
end
local changed = false
if r.c == nil and ARGV[4] ~= '' then r.c = ARGV[4]; changed = true end
if r.d == nil and ARGV[3] ~= '' then r.d = tonumber(ARGV[3]); changed = true end
if changed then rec_put(id, r) end
return 0
"""

#: ARGV: P, worker, id, reason, url date, now → the state the article is left in.
FAILED = r"""
local w, id = ARGV[2], ARGV[3]
local r = rec_get(id) or {t = tonumber(ARGV[6]), n = 0, v = 0}
r.n = (r.n or 0) + 1
r.u = tonumber(ARGV[6])
if r.d == nil and ARGV[5] ~= '' then r.d = tonumber(ARGV[5]) end
if r.s == nil or r.s == 0 or r.s == 3 then set_state(id, r, 3, ARGV[4]) end
rec_put(id, r)
local o = owner(id)
if o and o.w == w and o.ph == 'f' then disown(id, o) end
return NAMES[r.s]
"""

#: ARGV: P, worker, id, reason, url date, now → the state the article is left in.
DROPPED = r"""
local w, id = ARGV[2], ARGV[3]
local r = rec_get(id) or {t = tonumber(ARGV[6]), n = 0, v = 0}
r.u = tonumber(ARGV[6])
if r.d == nil and ARGV[5] ~= '' then r.d = tonumber(ARGV[5]) end
if r.s ~= 1 then set_state(id, r, 2, ARGV[4]) end
rec_put(id, r)
local o = owner(id)
if o and o.w == w and o.ph == 'f' then disown(id, o) end
return NAMES[r.s]
"""

#: ARGV: P, text fingerprint, id → the lower id first recorded with that text, or false.
FIRST_WITH_TEXT = r"""
local cur = redis.call('HGET', k('texts'), ARGV[2])
local id = tonumber(ARGV[3])
if cur and tonumber(cur) < id then return cur end
if (not cur) or tonumber(cur) > id then redis.call('HSET', k('texts'), ARGV[2], ARGV[3]) end
return false
"""

#: ARGV: P, column, mark → marks only move forward.
SET_MARK = r"""
local cur = redis.call('HGET', k('marks'), ARGV[2])
if (not cur) or tonumber(cur) < tonumber(ARGV[3]) then
  redis.call('HSET', k('marks'), ARGV[2], ARGV[3])
end
return 1
"""

#: ARGV: P, destination, [[id, revision], ...] → records a feed newsbot cannot watch was given.
GIVE = r"""
local dest = ARGV[2]
for _, r in ipairs(cjson.decode(ARGV[3])) do give(dest, tostring(r[1]), tonumber(r[2])) end
return 1
"""

SCRIPTS = {
    name: PRELUDE + body
    for name, body in {
        "register": REGISTER,
        "heartbeat": HEARTBEAT,
        "join": JOIN,
        "end_seeding": END_SEEDING,
        "push": PUSH,
        "pop": POP,
        "release_lease": RELEASE_LEASE,
        "release": RELEASE,
        "claim": CLAIM,
        "begin_publish": BEGIN_PUBLISH,
        "finish_publish": FINISH_PUBLISH,
        "abandon_publish": ABANDON_PUBLISH,
        "settle": SETTLE,
        "reap": REAP,
        "retire": RETIRE,
        "verdict": VERDICT,
        "discovered": DISCOVERED,
        "failed": FAILED,
        "dropped": DROPPED,
        "first_with_text": FIRST_WITH_TEXT,
        "set_mark": SET_MARK,
        "give": GIVE,
    }.items()
}
