--[[
  Appends one message to a user's history, atomically:
  dedupe by id, RPUSH, trim to the newest ARGV[3], restart the TTL, and
  optionally announce it on a sharded Pub/Sub channel (the fan-out to other
  replicas), so that storing and announcing take one round trip.

  KEYS[1]  the user's list, <prefix>:<userId>:messages
  KEYS[2]  optional: the inbox stream (INBOX_STREAM) to XADD the stored
           message to; absent when the message does not enter the inbox or
           the stream is in another Cluster slot (the store then XADDs it
           itself, after this script)
  ARGV[1]  the element to store (JSON, see message-codec.ts)
  ARGV[2]  the message id to dedupe on, or "" to skip the check
           (server-assigned ids are fresh and cannot collide)
  ARGV[3]  HISTORY_MAX: elements kept
  ARGV[4]  HISTORY_TTL_SECONDS
  ARGV[5]  optional: the channel to SPUBLISH to once stored ("" or absent: none);
           on a Cluster it must hash to KEYS[1]'s slot (realtime/rooms.ts)
  ARGV[6]  optional: what to publish there
  ARGV[7]  with KEYS[2]: INBOX_MAXLEN, trimmed approximately (MAXLEN ~)
  ARGV[8]  with KEYS[2]: the entry's `userId` field
  ARGV[9]  with KEYS[2]: the entry's `id` field (the message id)
  ARGV[10] with KEYS[2]: the entry's `message` field (the Message as JSON)

  Returns  0 when stored;
           the element already kept under that id (a string) when it is a
           duplicate, in which case nothing is written;
           the error "INBOXTYPE ..." when KEYS[2] holds something other than
           a stream, in which case nothing is written either (checked before
           any write, so the add stays all-or-nothing).
]]
local key = KEYS[1]
local id = ARGV[2]

-- The id a reader serves for an element (mirrors decodeElement in
-- message-codec.ts): its own valid id, one derived from its bytes, or nil
-- for an element that is not served at all.
local function servedId(element)
  local ok, decoded = pcall(cjson.decode, element)
  if not ok then
    -- cjson refuses a lone UTF-16 surrogate escape (a cut-off emoji, as
    -- JSON.stringify and Python's json.dumps write it), which JSON.parse
    -- reads. Replace every surrogate escape by another valid one, same
    -- length, and decode again: only the id and content's type are used.
    -- (Should the "\" before one be an escaped backslash, the replacement is
    -- plain text and the JSON stays just as valid.)
    ok, decoded = pcall(cjson.decode, (string.gsub(element, "\\u[dD][89a-fA-F]%x%x", "\\u003f")))
  end
  if not ok or type(decoded) ~= "table" or type(decoded.content) ~= "string" then
    return nil
  end
  local own = decoded.id
  -- The message id rule of client-sdk/src/protocol/ids.ts (MESSAGE_ID_PATTERN).
  if type(own) == "string" and #own <= 64 and string.match(own, "^[%w_%-]+$") then
    return own
  end
  return "sha1-" .. redis.sha1hex(element)
end

if id ~= "" then
  local quoted = '"' .. id .. '"'
  local derived = string.sub(id, 1, 5) == "sha1-"
  local elements = redis.call("LRANGE", key, 0, -1)
  for i = 1, #elements do
    local element = elements[i]
    -- A plain-text test first, so only elements that mention the id are decoded.
    if (derived or string.find(element, quoted, 1, true)) and servedId(element) == id then
      return element
    end
  end
end

local inbox = KEYS[2]
if inbox then
  local kind = redis.call("TYPE", inbox).ok
  if kind ~= "stream" and kind ~= "none" then
    return redis.error_reply("INBOXTYPE the inbox key " .. inbox .. " holds a " .. kind .. ", not a stream")
  end
end

redis.call("RPUSH", key, ARGV[1])
redis.call("LTRIM", key, -tonumber(ARGV[3]), -1)
redis.call("EXPIRE", key, ARGV[4])
if ARGV[5] and ARGV[5] ~= "" then
  redis.call("SPUBLISH", ARGV[5], ARGV[6])
end
if inbox then
  redis.call("XADD", inbox, "MAXLEN", "~", ARGV[7], "*", "userId", ARGV[8], "id", ARGV[9], "message", ARGV[10])
end
return 0
