--[[
  The user's live drafts (appendDraft.lua), deleting those idle past
  ARGV[1] ms of Redis's clock. Read beside the window in one round trip.
  A drafts key that is not a hash reads as no drafts (appendDraft.lua refuses
  to write it), so a foreign value there never breaks a history load.

  KEYS[1]  the drafts hash, {<prefix>:<userId>:messages}:drafts
  ARGV[1]  DRAFT_IDLE_MS

  Returns  {id, value, id, value, ...} of the live drafts, each value JSON
           {role, content, seq, updatedAt}: the field's metadata with the
           text of its text key (<drafts key>:<id>) as `content`. A field is
           live as appendDraft.lua judges it; a dead one is deleted with its text.
]]
if redis.replicate_commands then
  redis.replicate_commands()
end
local drafts, idle = KEYS[1], tonumber(ARGV[1])
if redis.call("TYPE", drafts).ok ~= "hash" then
  return {}
end
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local MAX_SEQ = 2 ^ 53 - 2
local function wholeIn(value, low, high)
  return type(value) == "number" and value == math.floor(value) and value >= low and value <= high
end

-- The draft under `field` with its text, or nil when it is dead.
local function live(field, raw)
  local ok, draft = pcall(cjson.decode, raw)
  if not ok or type(draft) ~= "table" or type(draft.role) ~= "string" or not wholeIn(draft.seq, 1, MAX_SEQ) then
    return nil
  end
  if not wholeIn(draft.length, 0, MAX_SEQ) or type(draft.updatedAt) ~= "number" or now - draft.updatedAt > idle then
    return nil
  end
  local content = redis.pcall("GET", drafts .. ":" .. field)
  if type(content) ~= "string" or #content ~= draft.length then
    return nil
  end
  return cjson.encode({ role = draft.role, content = content, seq = draft.seq, updatedAt = draft.updatedAt })
end

local fields = redis.call("HGETALL", drafts)
local kept = {}
for i = 1, #fields, 2 do
  local value = live(fields[i], fields[i + 1])
  if value then
    kept[#kept + 1] = fields[i]
    kept[#kept + 1] = value
  else
    redis.call("HDEL", drafts, fields[i])
    redis.call("DEL", drafts .. ":" .. fields[i])
  end
end
return kept
