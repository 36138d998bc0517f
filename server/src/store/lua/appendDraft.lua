--[[
  Appends one chunk to a streamed reply (a draft, PROTOCOL.md §4 "Drafts"),
  atomically: refuse when the reply is over or too large or the user has too
  many live drafts, else store the text so far with the next sequence
  number, restart the drafts key's idle expiry and publish `draft:update` to
  the user's room, all in one round trip.

  A draft is one field of the user's drafts hash (KEYS[1]), named by the id
  its final message will be stored under, whose value is its small metadata,
  JSON {role, seq, updatedAt, length} (updatedAt in ms of Redis's clock, so
  every replica judges idleness by one clock; length in bytes), and its text
  so far, a string key beside it (KEYS[3], <drafts key>:<id>). A chunk is an
  APPEND to that string: its cost does not grow with the draft (decoding and
  re-encoding the whole text per chunk cost ~37 ms of Redis at 900 KB). A
  field older than ARGV[6] is dead, and so is one whose text key does not
  hold `length` bytes or whose values are not what this script writes
  (liveDraft.lua, put before this file when lua-scripts.ts builds the
  script): readers skip it and whoever meets it deletes it and its text;
  its draft starts again at seq 1.

  "The reply is over" is read from the id index (KEYS[2], appendMessage.lua):
  an id it holds was stored by an add, so the chunk is refused. The index is
  not re-checked against the list here (that check needs a read of the
  window): a message written under the draft's id by another program straight
  into the list (RPUSH, without the index) is not seen until the next add
  rebuilds the index. Such a draft then lingers until it is discarded or
  idle; clients drop a draft whose id they hold as a message. An id the index
  still holds after another program trimmed its message away is still
  refused, which is right: that reply was finished.

  KEYS[1]  the drafts hash, {<prefix>:<userId>:messages}:drafts
  KEYS[2]  the id index, {<prefix>:<userId>:messages}:ids (same Cluster slot)
  KEYS[3]  the draft's text, {<prefix>:<userId>:messages}:drafts:<ARGV[1]>
  ARGV[1]  the draft's id
  ARGV[2]  its role (used when the chunk starts a draft; a draft keeps its first role)
  ARGV[3]  the chunk (UTF-8)
  ARGV[4]  MAX_MESSAGE_BYTES: the largest content, in bytes
  ARGV[5]  MAX_DRAFTS_PER_USER
  ARGV[6]  DRAFT_IDLE_MS
  ARGV[7]  the channel to SPUBLISH `draft:update` on ("": none)
  ARGV[8]  what to publish before the sequence number
  ARGV[9]  what to publish after it. The payload carries the new sequence
           number, which only this script knows: the caller encodes the
           broadcast around a placeholder and hands the two sides, so the
           script needs no knowledge of the adapter's format.

  Returns  {"ok", seq, length in bytes}, or {"closed"}, {"large"}, {"full"}
           when refused (nothing changed); an error reply when KEYS[1] is not
           a hash.
]]
if redis.replicate_commands then
  -- Redis < 5 only allows TIME before a write in effects replication; a no-op since.
  redis.replicate_commands()
end
local drafts, index, text = KEYS[1], KEYS[2], KEYS[3]
local id, role, chunk = ARGV[1], ARGV[2], ARGV[3]
local maxBytes, maxDrafts, idle = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])

local kind = redis.call("TYPE", drafts).ok
if kind ~= "none" and kind ~= "hash" then
  return redis.error_reply("WRONGTYPE the drafts key " .. drafts .. " holds a " .. kind .. ", not a hash")
end
if redis.call("HEXISTS", index, id) == 1 then
  return { "closed" }
end

local now = redisNow()

-- Dead fields met on the way, deleted only after the HSET below: Redis
-- checks maxmemory only until a script's first write, and HDEL is a write it
-- never refuses, so deleting first would let a full Redis take the chunk.
local dead = {}
local function deleteDead()
  for i = 1, #dead do
    deleteDraft(drafts, dead[i])
  end
end

local raw = redis.call("HGET", drafts, id)
local current = raw and liveDraft(drafts, id, raw, now, idle)
if not current then
  -- A new draft (or one that went idle, which starts again at 1): count the
  -- user's other live drafts, deleting the dead ones met on the way.
  local fields = redis.call("HGETALL", drafts)
  local others = 0
  for i = 1, #fields, 2 do
    if fields[i] ~= id then
      if liveDraft(drafts, fields[i], fields[i + 1], now, idle) then
        others = others + 1
      else
        dead[#dead + 1] = fields[i]
      end
    end
  end
  if others >= maxDrafts then
    deleteDead()
    return { "full" }
  end
  current = { role = role, length = 0, seq = 0 }
end

if current.length + #chunk > maxBytes then
  return { "large" }
end
local seq = current.seq + 1
-- The first write is SET or APPEND, both refused by a full Redis (it checks
-- maxmemory only until a script's first write). SET starts a draft afresh,
-- whatever another program left under its text key.
local length
if current.seq == 0 then
  redis.call("SET", text, chunk)
  length = #chunk
else
  length = redis.call("APPEND", text, chunk)
end
redis.call("HSET", drafts, id, cjson.encode({ role = current.role, seq = seq, updatedAt = now, length = length }))
redis.call("PEXPIRE", drafts, idle)
redis.call("PEXPIRE", text, idle)
deleteDead()
if ARGV[7] ~= "" then
  redis.call("SPUBLISH", ARGV[7], ARGV[8] .. string.format("%d", seq) .. ARGV[9])
end
return { "ok", seq, length }
