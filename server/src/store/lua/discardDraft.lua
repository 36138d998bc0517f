--[[
  Abandons a draft (appendDraft.lua): deletes its field and publishes
  `draft:discarded` to the user's room, in one round trip, and deletes its
  text (KEYS[2]). A field idle past
  ARGV[2] ms is deleted too but counts as unknown (readers no longer show it).

  KEYS[1]  the drafts hash, {<prefix>:<userId>:messages}:drafts
  KEYS[2]  the draft's text, {<prefix>:<userId>:messages}:drafts:<ARGV[1]>
  ARGV[1]  the draft's id
  ARGV[2]  DRAFT_IDLE_MS
  ARGV[3]  the channel to SPUBLISH to ("": none)
  ARGV[4]  what to publish there

  Returns  1 when a live draft was discarded, 0 when there was none;
           an error reply when KEYS[1] is not a hash.
]]
if redis.replicate_commands then
  redis.replicate_commands()
end
local drafts, id, idle = KEYS[1], ARGV[1], tonumber(ARGV[2])
local kind = redis.call("TYPE", drafts).ok
if kind ~= "none" and kind ~= "hash" then
  return redis.error_reply("WRONGTYPE the drafts key " .. drafts .. " holds a " .. kind .. ", not a hash")
end
local raw = redis.call("HGET", drafts, id)
if not raw then
  return 0
end
redis.call("HDEL", drafts, id)
redis.call("DEL", KEYS[2])
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ok, draft = pcall(cjson.decode, raw)
if not ok or type(draft) ~= "table" or type(draft.updatedAt) ~= "number" or now - draft.updatedAt > idle then
  return 0
end
if ARGV[3] ~= "" then
  redis.call("SPUBLISH", ARGV[3], ARGV[4])
end
return 1
