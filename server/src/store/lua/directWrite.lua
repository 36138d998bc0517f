--[[
  scrollback_add: the add of appendMessage.lua for programs that write to
  Redis directly (PROTOCOL.md §9). Not a script on its own: direct-write-function.ts
  builds a Redis Function library from SETTINGS (the server's, as Lua
  constants), appendMessage.lua wrapped as `appendMessage(KEYS, ARGV)`, and
  this file, so that the dedupe, trim, TTL, drafts, inbox and fan-out are the
  server's own code, not a copy.

  FCALL scrollback_add 3 <list key> <ids key> <drafts key> <message JSON>

  The message JSON: {"id", "content", "role"?, "timestamp"?}; it is checked
  and stored in the server's own element form (message-codec.ts), never as
  given. Returns {"stored", <Message JSON>} or {"duplicate", <kept element>};
  errors: "SCROLLBACK_INVALID ..." and appendMessage.lua's.
]]

-- A JSON string as JSON.stringify writes it: cjson also escapes "/", which
-- no escaped backslash can precede here ("\\" then "\/" is how cjson writes "\/").
local function jsonString(text)
  return (string.gsub(cjson.encode(text), "\\/", "/"))
end

local function invalid(what)
  return redis.error_reply("SCROLLBACK_INVALID " .. what)
end

-- Redis's clock as an ISO 8601 UTC timestamp (as Date.toISOString writes
-- it); Redis's Lua has no os.date. Days to a civil date: H. Hinnant's algorithm.
local function isoNow()
  local now = redis.call("TIME")
  local seconds, ms = tonumber(now[1]), math.floor(tonumber(now[2]) / 1000)
  local days = math.floor(seconds / 86400)
  local inDay = seconds - days * 86400
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local day = doy - math.floor((153 * mp + 2) / 5) + 1
  local month = mp < 10 and mp + 3 or mp - 9
  local year = yoe + era * 400 + (month <= 2 and 1 or 0)
  return string.format(
    "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
    year, month, day, math.floor(inDay / 3600), math.floor(inDay % 3600 / 60), inDay % 60, ms
  )
end

-- The length JavaScript gives a valid UTF-8 `text` (String.length, in UTF-16
-- code units), not its bytes (#text): the adapter takes a room for a socket
-- id by that count, so rooms.ts adds the `~` by it and the function must too
-- (KEY_PREFIX may be any text). A character of 1-3 bytes is one unit (count
-- each byte that is not a continuation byte), one of 4 bytes two (a surrogate pair).
local function utf16Length(text)
  local _, continuations = string.gsub(text, "[\128-\191]", "")
  local _, fourByteLeads = string.gsub(text, "[\240-\247]", "")
  return #text - continuations + fourByteLeads
end

-- The user's room and its sharded channel (realtime/rooms.ts, fanout-adapter.ts).
local function roomOf(key)
  local room = "user:{" .. key .. "}"
  if utf16Length(room) == SETTINGS.socketIdLength then
    room = room .. "~"
  end
  return room
end

local function scrollbackAdd(keys, args)
  if #keys ~= 3 or #args ~= 1 then
    return invalid("takes 3 keys (the list, its ids and its drafts) and 1 argument (the message JSON)")
  end
  local key = keys[1]
  local head, tail = SETTINGS.keyPrefix .. ":", ":messages"
  if #key <= #head + #tail or string.sub(key, 1, #head) ~= head or string.sub(key, -#tail) ~= tail then
    return invalid("the list key must be " .. head .. "<userId>" .. tail)
  end
  local userId = string.sub(key, #head + 1, -#tail - 1)
  if #userId > 128 or not string.match(userId, "^[%w_%.@:%-]+$") then
    return invalid("the userId must be 1-128 of A-Z a-z 0-9 _ . @ : -")
  end
  if keys[2] ~= "{" .. key .. "}:ids" or keys[3] ~= "{" .. key .. "}:drafts" then
    return invalid("the ids and drafts keys must be {" .. key .. "}:ids and {" .. key .. "}:drafts")
  end
  local ok, message = pcall(cjson.decode, args[1])
  if not ok or type(message) ~= "table" then
    return invalid("the message must be a JSON object (cjson reads no lone UTF-16 surrogate escape)")
  end
  local id, content = message.id, message.content
  if type(id) ~= "string" or #id > 64 or not string.match(id, "^[%w_%-]+$") then
    return invalid("id: 1-64 of A-Z a-z 0-9 _ -")
  end
  if type(content) ~= "string" or #content == 0 or #content > SETTINGS.maxMessageBytes then
    return invalid("content: a string of 1-" .. SETTINGS.maxMessageBytes .. " UTF-8 bytes")
  end
  local role = message.role
  if role == nil then
    role = "user"
  elseif role ~= "user" and role ~= "assistant" and role ~= "system" then
    return invalid("role: user, assistant or system")
  end
  local timestamp = message.timestamp
  if timestamp == nil then
    timestamp = isoNow()
  elseif type(timestamp) ~= "string" or #timestamp == 0 or #timestamp > 64 then
    return invalid("timestamp: a string of 1-64 bytes")
  end
  if message.meta ~= nil then
    return invalid("meta is not taken here (use the HTTP API)")
  end

  -- The element as encodeElement writes it, and the Message as readers serve it.
  local fields = '{"id":' .. jsonString(id) .. ',"role":' .. jsonString(role)
    .. ',"content":' .. jsonString(content) .. ',"timestamp":' .. jsonString(timestamp)
  local element = fields .. "}"
  local served = fields .. ',"userId":' .. jsonString(userId) .. "}"
  local room = roomOf(key)
  local channel = SETTINGS.channelPrefix .. room .. "#"
  local broadcast = SETTINGS.broadcast
  local first, second = jsonString(room), served
  if SETTINGS.messageFirst then
    first, second = served, jsonString(room)
  end
  local payload = broadcast[1] .. first .. broadcast[2] .. second .. broadcast[3]

  local appendKeys = { key, keys[2], keys[3] }
  local appendArgs = { element, id, "1", SETTINGS.historyMax, SETTINGS.historyTtlSeconds, channel, payload }
  local inbox = SETTINGS.inbox
  if inbox and inbox.roles[role] then
    appendKeys[4] = "{" .. key .. "}:inbox-quota"
    appendArgs[8] = inbox.userPerMinute
    if inbox.stream then
      appendKeys[5] = inbox.stream
      appendArgs[9], appendArgs[10], appendArgs[11], appendArgs[12] = inbox.maxLen, userId, id, served
    end
  end
  local kept = appendMessage(appendKeys, appendArgs)
  if kept == 0 then
    return { "stored", served }
  end
  if type(kept) == "string" then
    return { "duplicate", kept }
  end
  return kept
end

redis.register_function("scrollback_add", scrollbackAdd)
