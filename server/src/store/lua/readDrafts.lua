--[[
  The user's live drafts (appendDraft.lua), deleting the dead ones (idle past
  ARGV[1] ms of Redis's clock, or not what appendDraft.lua writes: the rule
  of liveDraft.lua, put before this file when lua-scripts.ts builds the
  script). Read beside the window in one round trip.
  A drafts key that is not a hash reads as no drafts (appendDraft.lua refuses
  to write it), so a foreign value there never breaks a history load.

  The answer is bounded whatever another program wrote into the hash: at
  most ARGV[2] drafts, the most recently grown (appendDraft.lua never lets a
  user have more live ones; others are left, not deleted: they are live),
  and none longer than ARGV[3] bytes (left out, not deleted). Only those
  texts are read.

  KEYS[1]  the drafts hash, {<prefix>:<userId>:messages}:drafts
  ARGV[1]  DRAFT_IDLE_MS
  ARGV[2]  MAX_DRAFTS_PER_USER
  ARGV[3]  MAX_MESSAGE_BYTES: the largest draft answered, in bytes

  Returns  {id, value, id, value, ...} of at most ARGV[2] live drafts, most
           recently grown first, each value JSON {role, content, seq,
           updatedAt}: the field's metadata with the text of its text key
           (<drafts key>:<id>) as `content`.
]]
if redis.replicate_commands then
  redis.replicate_commands()
end
local drafts, idle, maxDrafts, maxBytes = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if redis.call("TYPE", drafts).ok ~= "hash" then
  return {}
end
local now = redisNow()

local fields = redis.call("HGETALL", drafts)
local live = {}
for i = 1, #fields, 2 do
  local field = fields[i]
  local draft = liveDraft(drafts, field, fields[i + 1], now, idle)
  if not draft then
    deleteDraft(drafts, field)
  elseif draft.length <= maxBytes then
    draft.id = field
    live[#live + 1] = draft
  end
end

-- Field names are unique, so the order is total: the same drafts on every read.
table.sort(live, function(a, b)
  if a.updatedAt ~= b.updatedAt then
    return a.updatedAt > b.updatedAt
  end
  return a.id < b.id
end)
local answer = {}
for i = 1, math.min(#live, maxDrafts) do
  local draft = live[i]
  local content = redis.call("GET", draftTextKey(drafts, draft.id))
  answer[#answer + 1] = draft.id
  answer[#answer + 1] = cjson.encode({ role = draft.role, content = content, seq = draft.seq, updatedAt = draft.updatedAt })
end
return answer
