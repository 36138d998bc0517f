--[[
  The user's live drafts (appendDraft.lua), deleting the dead ones (idle past
  ARGV[1] ms of Redis's clock, or not what appendDraft.lua writes: the rule
  of liveDraft.lua, put before this file when lua-scripts.ts builds the
  script). Read beside the window in one round trip.
  A drafts key that is not a hash reads as no drafts (appendDraft.lua refuses
  to write it), so a foreign value there never breaks a history load.

  KEYS[1]  the drafts hash, {<prefix>:<userId>:messages}:drafts
  ARGV[1]  DRAFT_IDLE_MS

  Returns  {id, value, id, value, ...} of the live drafts, each value JSON
           {role, content, seq, updatedAt}: the field's metadata with the
           text of its text key (<drafts key>:<id>) as `content`.
]]
if redis.replicate_commands then
  redis.replicate_commands()
end
local drafts, idle = KEYS[1], tonumber(ARGV[1])
if redis.call("TYPE", drafts).ok ~= "hash" then
  return {}
end
local now = redisNow()

local fields = redis.call("HGETALL", drafts)
local kept = {}
for i = 1, #fields, 2 do
  local field = fields[i]
  local draft = liveDraft(drafts, field, fields[i + 1], now, idle)
  if draft then
    local content = redis.call("GET", drafts .. ":" .. field)
    kept[#kept + 1] = field
    kept[#kept + 1] = cjson.encode({ role = draft.role, content = content, seq = draft.seq, updatedAt = draft.updatedAt })
  else
    redis.call("HDEL", drafts, field)
    redis.call("DEL", drafts .. ":" .. field)
  end
end
return kept
