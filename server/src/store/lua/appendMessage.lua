--[[
  Appends one message to a user's history, atomically:
  dedupe by id, RPUSH, trim to the newest ARGV[4], restart the TTL, and
  optionally announce it on a sharded Pub/Sub channel (the fan-out to other
  replicas), so that storing and announcing take one round trip.

  The duplicate check reads a constant amount whatever the window: an id
  index (KEYS[2], a hash) maps each kept element's id to its sequence number,
  from which LINDEX finds the element. The index is kept exact under trim
  (an element popped off the head leaves the index with it), clear (both keys
  are deleted together, clearHistory.lua) and expiry (both get the same TTL).
  Another program writing the list (the original app's RPUSH + LTRIM) leaves
  the index behind: every add checks that the list still has the length and
  the last element the index recorded, and rebuilds the index from the list
  when it does not, which costs one read of the window, once. (An element
  replaced in the middle, LSET, with the length and last element unchanged,
  is not seen: PROTOCOL.md §2.)

  Every call that can fail runs before the first write of the add (Redis
  does not undo a script's writes when it stops on an error): the inbox's
  quota, type check and XADD come before the history is touched.

  KEYS[1]  the user's list, <prefix>:<userId>:messages
  KEYS[2]  its id index, {<prefix>:<userId>:messages}:ids (same Cluster slot)
  KEYS[3]  its drafts hash, {<prefix>:<userId>:messages}:drafts: the draft
           streamed under the id ends as the message is stored (appendDraft.lua)
  KEYS[4]  optional: the user's inbox quota, {<prefix>:<userId>:messages}:inbox-quota,
           a counter of the user's messages entering the inbox in the current
           minute (expires 60 s after the first); present when the message
           enters the inbox
  KEYS[5]  optional: the inbox stream (INBOX_STREAM) to XADD the stored
           message to; absent when the message does not enter the inbox or
           the stream is in another Cluster slot (the store then XADDs it
           itself, after this script)
  ARGV[1]  the element to store (JSON, see message-codec.ts)
  ARGV[2]  the element's id
  ARGV[3]  "1" to refuse a duplicate of that id, "0" to skip the check
           (server-assigned ids are fresh and cannot collide)
  ARGV[4]  HISTORY_MAX: elements kept
  ARGV[5]  HISTORY_TTL_SECONDS (also the longest an inbox entry is kept)
  ARGV[6]  optional: the channel to SPUBLISH to once stored ("" or absent: none);
           on a Cluster it must hash to KEYS[1]'s slot (realtime/rooms.ts)
  ARGV[7]  optional: what to publish there
  ARGV[8]  with KEYS[4]: INBOX_USER_PER_MINUTE, messages per user per minute
           the inbox takes (0: no quota)
  ARGV[9]  with KEYS[5]: INBOX_MAXLEN, trimmed approximately (MAXLEN ~)
  ARGV[10] with KEYS[5]: the entry's `userId` field
  ARGV[11] with KEYS[5]: the entry's `id` field (the message id)
  ARGV[12] with KEYS[5]: the entry's `message` field (the Message as JSON)

  Returns  0 when stored;
           the element already kept under that id (a string) when it is a
           duplicate, in which case the history is not written;
           or one of these errors, in which case nothing is written either:
           "INBOXQUOTA <ms>" the user's quota is used up, <ms> until it refills;
           "INBOXTYPE ..."   KEYS[5] holds something other than a stream, or
                             KEYS[4] something other than a count;
           "INBOXADD ..."    the XADD failed (e.g. the stream's last id is
                             the largest there is).
]]
local key, index, drafts, quota, inbox = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local element, id, check = ARGV[1], ARGV[2], ARGV[3] == "1"
local max, ttl = tonumber(ARGV[4]), ARGV[5]

-- Decodes as JSON.parse would, or fails: cjson also takes NaN, Infinity,
-- hex and leading zeros, which JSON.parse refuses. The setting is the Lua
-- VM's, shared with every other script: set for this call and put back.
local function decodeStrictly(raw)
  local lenient = cjson.decode_invalid_numbers()
  cjson.decode_invalid_numbers(false)
  local ok, decoded = pcall(cjson.decode, raw)
  cjson.decode_invalid_numbers(lenient)
  return ok, decoded
end

-- Raw bytes JSON.parse refuses anywhere (control characters but tab, LF and
-- CR), and those it refuses inside strings only: each looked for with a
-- plain find (memchr speed; Lua's character classes cost ~13 ns a byte).
local REFUSED_ANYWHERE, REFUSED_IN_STRINGS = {}, { "\t", "\n", "\r" }
for byte = 0, 31 do
  if byte ~= 9 and byte ~= 10 and byte ~= 13 then
    REFUSED_ANYWHERE[#REFUSED_ANYWHERE + 1] = string.char(byte)
  end
end

local function containsAny(raw, bytes)
  for i = 1, #bytes do
    if string.find(raw, bytes[i], 1, true) then
      return true
    end
  end
  return false
end

local function hasNumber(value)
  if type(value) == "number" then
    return true
  end
  if type(value) == "table" then
    for _, inner in pairs(value) do
      if hasNumber(inner) then
        return true
      end
    end
  end
  return false
end

-- Whether JSON.parse would refuse `raw`, which cjson (strict numbers) read
-- as `decoded`: a raw control character (tab, LF and CR only inside a
-- string), or a number strtod reads and JSON's grammar does not ("1.", ".5",
-- "1.e5": outside strings a "." is always part of a number, and JSON wants a
-- digit on each side of it). The text outside strings is looked at only
-- when the element has a number or a raw tab, LF or CR (the server's own
-- elements have neither, meta aside).
local function lenientOnly(raw, decoded)
  if containsAny(raw, REFUSED_ANYWHERE) then
    return true
  end
  if not containsAny(raw, REFUSED_IN_STRINGS) and not hasNumber(decoded) then
    return false
  end
  -- Drop every escape pair, then every string (looking into each for tab,
  -- LF and CR): what is left is outside strings.
  local controlInString = false
  local outside = string.gsub((string.gsub(raw, "\\.", "")), '"[^"]*"', function(text)
    controlInString = controlInString or containsAny(text, REFUSED_IN_STRINGS)
    return ""
  end)
  return controlInString
    or string.find(outside, "[^%d]%.") ~= nil
    or string.find(outside, "%.[^%d]") ~= nil
    or string.find(outside, "^%.") ~= nil
    or string.find(outside, "%.$") ~= nil
end

-- The id a reader serves for an element (mirrors decodeElement in
-- message-codec.ts): its own valid id, one derived from its bytes, or nil
-- for an element that is not served at all.
local function servedId(raw)
  local ok, decoded = decodeStrictly(raw)
  if not ok then
    -- cjson refuses a lone UTF-16 surrogate escape (a cut-off emoji, as
    -- JSON.stringify and Python's json.dumps write it), which JSON.parse
    -- reads. Replace every surrogate escape by another valid one, same
    -- length, and decode again: only the id and content's type are used.
    -- (Should the "\" before one be an escaped backslash, the replacement is
    -- plain text and the JSON stays just as valid.)
    ok, decoded = decodeStrictly((string.gsub(raw, "\\u[dD][89a-fA-F]%x%x", "\\u003f")))
  end
  if not ok or type(decoded) ~= "table" or type(decoded.content) ~= "string" or lenientOnly(raw, decoded) then
    return nil
  end
  local own = decoded.id
  -- The message id rule of client-sdk/src/protocol/ids.ts (MESSAGE_ID_PATTERN).
  if type(own) == "string" and #own <= 64 and string.match(own, "^[%w_%-]+$") then
    return own
  end
  return "sha1-" .. redis.sha1hex(raw)
end

-- The index's own fields start with "." (no id can):
--   .head  the sequence number of the list's first element
--   .len   the list's length when the index last wrote it
--   .tail  sha1 of the list's last element then
-- An element's sequence number minus .head is its position in the list.

-- The sequence number of the list's first element, or nil when the index
-- does not describe the list as it is.
local function currentHead(length)
  local meta = redis.call("HMGET", index, ".head", ".len", ".tail")
  if not meta[1] or tonumber(meta[2]) ~= length then
    return nil
  end
  if length > 0 and redis.sha1hex(redis.call("LINDEX", key, -1)) ~= meta[3] then
    return nil
  end
  return tonumber(meta[1])
end

local function recordShape(head, length, last)
  redis.call("HSET", index, ".head", head, ".len", length, ".tail", last and redis.sha1hex(last) or "")
end

-- Indexes the list as it is (head 0), with the list's expiry.
local function rebuild(length)
  -- HSET before DEL: Redis checks maxmemory only until a script's first
  -- write, and DEL is a write it never refuses; a full Redis must refuse
  -- the add here, before anything changed, not let the RPUSH through.
  redis.call("HSET", index, ".head", 0)
  redis.call("DEL", index)
  local elements = redis.call("LRANGE", key, 0, -1)
  for i = 1, #elements do
    local served = servedId(elements[i])
    -- A later element with the same id wins: it is the one kept longest.
    if served then
      redis.call("HSET", index, served, i - 1)
    end
  end
  recordShape(0, length, elements[#elements])
  local pttl = redis.call("PTTL", key)
  if pttl > 0 then
    redis.call("PEXPIRE", index, pttl)
  end
  return 0
end

-- The element the index keeps under `wanted`: nil when there is none, false
-- when the element at that position is not it (the index is stale). A
-- sequence that is no position in the list (not a number, not a whole one,
-- before the head or past the end: another program wrote the field) is
-- stale too, so it is rebuilt rather than handed to LINDEX, which would
-- stop the script on a non-integer and read from the end on a negative.
local function keptUnder(wanted, head, length)
  local sequence = redis.call("HGET", index, wanted)
  if not sequence then
    return nil
  end
  local position = tonumber(sequence)
  position = position and position - head
  if not position or position ~= math.floor(position) or position < 0 or position >= length then
    return false
  end
  local kept = redis.call("LINDEX", key, position)
  return kept and servedId(kept) == wanted and kept
end

-- The element kept under `wanted`, read from the list itself (the latest,
-- as the index keeps), or nil. Writes nothing.
local function foundInList(wanted)
  local quoted = '"' .. wanted .. '"'
  local derived = string.sub(wanted, 1, 5) == "sha1-"
  local elements = redis.call("LRANGE", key, 0, -1)
  for i = #elements, 1, -1 do
    -- A plain-text test first, so only elements that mention the id are decoded.
    if (derived or string.find(elements[i], quoted, 1, true)) and servedId(elements[i]) == wanted then
      return elements[i]
    end
  end
  return nil
end

-- Before the index is rebuilt (its first write is refused by a full Redis),
-- a duplicate is answered from the list: a resend of a kept message stays a
-- duplicate, never STORE_FULL.
local function duplicateBeforeRebuild()
  return check and foundInList(id) or nil
end

local length = redis.call("LLEN", key)
local head = currentHead(length)
if not head then
  local kept = duplicateBeforeRebuild()
  if kept then
    return kept
  end
  head = rebuild(length)
end

if check then
  local kept = keptUnder(id, head, length)
  if kept == false then
    -- Another program moved elements without changing the list's length or
    -- last element (LPOP and RPUSH of the same bytes): index it again.
    kept = duplicateBeforeRebuild()
    if kept then
      return kept
    end
    head = rebuild(length)
    kept = keptUnder(id, head, length)
  end
  if kept then
    return kept
  end
end

-- The inbox's part, before any write: each step may refuse the add.
if quota and tonumber(ARGV[8]) > 0 then
  local used = redis.call("GET", quota) or "0"
  -- Checked here so that the INCR below, after the XADD, cannot fail.
  if not string.match(used, "^%d+$") or #used > 15 then
    return redis.error_reply("INBOXTYPE the inbox quota key " .. quota .. " does not hold a count")
  end
  if tonumber(used) >= tonumber(ARGV[8]) then
    return redis.error_reply("INBOXQUOTA " .. math.max(redis.call("PTTL", quota), 1))
  end
end
if inbox then
  local kind = redis.call("TYPE", inbox).ok
  if kind ~= "stream" and kind ~= "none" then
    return redis.error_reply("INBOXTYPE the inbox key " .. inbox .. " holds a " .. kind .. ", not a stream")
  end
  local added = redis.pcall("XADD", inbox, "MAXLEN", "~", ARGV[9], "*", "userId", ARGV[10], "id", ARGV[11], "message", ARGV[12])
  if type(added) == "table" and added.err then
    -- A full Redis refuses the XADD as the add's first write: that is STORE_FULL, not an inbox problem.
    if string.sub(added.err, 1, 3) == "OOM" then
      return redis.error_reply(added.err)
    end
    return redis.error_reply("INBOXADD the inbox XADD failed: " .. added.err)
  end
  -- Entries older than the histories' TTL go (by Redis's clock), so no
  -- message text outlives HISTORY_TTL_SECONDS in the stream while adds come.
  local now = redis.call("TIME")
  local oldest = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - tonumber(ttl) * 1000
  redis.call("XTRIM", inbox, "MINID", string.format("%.0f", oldest))
end
if quota and tonumber(ARGV[8]) > 0 and redis.call("INCR", quota) == 1 then
  redis.call("PEXPIRE", quota, 60000)
end

-- RPUSH is the add's first write unless the inbox's XADD came first: a full
-- Redis refuses either (it checks maxmemory only until a script's first
-- write, and both are commands it refuses), and nothing is stored.
length = redis.call("RPUSH", key, element)
-- The draft streamed under this id ends here. pcall: a drafts key of another
-- type (another program's) must not fail the add, and its WRONGTYPE is all
-- that HDEL can answer there.
redis.pcall("HDEL", drafts, id)
-- And its text (appendDraft.lua), a key of the same hash tag named after the drafts key.
redis.call("DEL", drafts .. ":" .. id)
redis.call("HSET", index, id, head + length - 1)
if length > max then
  -- Pop what falls out of the window (one element in the steady state),
  -- taking each one's id out of the index unless a later element holds it.
  local popped = redis.call("LPOP", key, length - max)
  for i = 1, #popped do
    local served = servedId(popped[i])
    if served and tonumber(redis.call("HGET", index, served)) == head + i - 1 then
      redis.call("HDEL", index, served)
    end
  end
  head = head + #popped
  length = max
end
recordShape(head, length, element)
redis.call("EXPIRE", key, ttl)
redis.call("EXPIRE", index, ttl)
if ARGV[6] and ARGV[6] ~= "" then
  redis.call("SPUBLISH", ARGV[6], ARGV[7])
end
return 0
