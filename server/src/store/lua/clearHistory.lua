--[[
  Deletes a user's history and says how much it held, atomically, and
  optionally announces it on a sharded Pub/Sub channel: the one the user's
  adds are announced on (appendMessage.lua), so that every listener gets a
  user's adds and clears in the order Redis applied them.

  KEYS[1]  the user's list, <prefix>:<userId>:messages
  KEYS[2]  its id index, {<prefix>:<userId>:messages}:ids (appendMessage.lua)
  ARGV[1]  optional: the channel to SPUBLISH to once deleted ("" or absent: none);
           on a Cluster it must hash to KEYS[1]'s slot (realtime/rooms.ts)
  ARGV[2]  optional: what to publish there

  Returns  the number of elements deleted (0 when there was no history).
]]
local count = redis.call("LLEN", KEYS[1])
redis.call("DEL", KEYS[1], KEYS[2])
if ARGV[1] and ARGV[1] ~= "" then
  redis.call("SPUBLISH", ARGV[1], ARGV[2])
end
return count
