--[[
  The user's live drafts (appendDraft.lua), deleting those idle past
  ARGV[1] ms of Redis's clock. Read beside the window in one round trip.
  A drafts key that is not a hash reads as no drafts (appendDraft.lua refuses
  to write it), so a foreign value there never breaks a history load.

  KEYS[1]  the drafts hash, {<prefix>:<userId>:messages}:drafts
  ARGV[1]  DRAFT_IDLE_MS

  Returns  {id, value, id, value, ...} of the live drafts (values as stored)
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
local fields = redis.call("HGETALL", drafts)
local kept = {}
for i = 1, #fields, 2 do
  local ok, draft = pcall(cjson.decode, fields[i + 1])
  if ok and type(draft) == "table" and type(draft.updatedAt) == "number" and now - draft.updatedAt <= idle then
    kept[#kept + 1] = fields[i]
    kept[#kept + 1] = fields[i + 1]
  else
    redis.call("HDEL", drafts, fields[i])
  end
end
return kept
