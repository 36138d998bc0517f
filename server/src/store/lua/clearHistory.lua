--[[
  Deletes a user's history and says how much it held, atomically.

  KEYS[1]  the user's list, <prefix>:<userId>:messages

  Returns  the number of elements deleted (0 when there was no history).
]]
local count = redis.call("LLEN", KEYS[1])
redis.call("DEL", KEYS[1])
return count
