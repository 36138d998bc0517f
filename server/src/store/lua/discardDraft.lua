--[[
  Abandons a draft (appendDraft.lua): deletes its field and publishes
  `draft:discarded` to the user's room, in one round trip, and deletes its
  text (KEYS[2]). A dead field (idle past ARGV[2] ms, or not what
  appendDraft.lua writes: the rule of liveDraft.lua, put before this file
  when lua-scripts.ts builds the script) is deleted too but counts as
  unknown (readers never show it).

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
-- Judged before the deletes (liveDraft measures the text key): a field that
-- readers count dead was never shown, so it was no live draft to discard.
local live = liveDraft(drafts, id, raw, redisNow(), idle)
redis.call("HDEL", drafts, id)
redis.call("DEL", KEYS[2])
if not live then
  return 0
end
if ARGV[3] ~= "" then
  redis.call("SPUBLISH", ARGV[3], ARGV[4])
end
return 1
