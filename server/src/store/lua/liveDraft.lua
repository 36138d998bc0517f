--[[
  Not a script: a fragment that lua-scripts.ts puts before appendDraft.lua,
  readDrafts.lua and discardDraft.lua when it builds their text, so that all
  judge a field of the drafts hash (PROTOCOL.md §2, appendDraft.lua) by one rule.

  redisNow()  Redis's clock in ms (TIME): every replica judges idleness by it.
  draftTextKey(drafts, field)
              the key of a draft's text, <drafts>:<field> (redis-keys.ts
              draftTextKey; same hash tag, so same Cluster slot).
  deleteDraft(drafts, field)
              deletes a draft: its field and its text.
  liveDraft(drafts, field, raw, now, idle)
              the draft that the field `field` of the drafts hash `drafts`
              holds, its value `raw` decoded ({role, seq, updatedAt, length}),
              or nil when the field is dead: idle past `idle` ms at `now`
              (or dated more than `idle` ms after it), or
              not what appendDraft.lua writes (another program's, or an older
              release's {role, content, seq, updatedAt}): a field name that is
              not a message id (1-64 of A-Z a-z 0-9 _ -), a role that is none
              of the three, a seq that is not a whole number in
              1..DRAFT_MAX_SEQ, a length that is not one in 1..DRAFT_MAX_SEQ
              (a chunk is never empty), an updatedAt that is not a whole
              number of ms in 0..2^53 - 1 (cjson reads 1e999 as infinity,
              never idle, and cannot encode it back), or a text key
              (<drafts>:<field>) that does not hold `length` bytes. The text
              is measured with STRLEN, not read: O(1) whatever the draft's
              size.
]]

-- The highest seq a live draft may hold: its next chunk's seq (one more)
-- stays a safe integer (2^53 - 1), which readers (draft-codec.ts) require
-- and string.format("%d") prints exactly.
local DRAFT_MAX_SEQ = 2 ^ 53 - 2

local DRAFT_ROLES = { user = true, assistant = true, system = true }

local function wholeIn(value, low, high)
  return type(value) == "number" and value == math.floor(value) and value >= low and value <= high
end

local function redisNow()
  local time = redis.call("TIME")
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end

local function draftTextKey(drafts, field)
  return drafts .. ":" .. field
end

local function deleteDraft(drafts, field)
  redis.call("HDEL", drafts, field)
  redis.call("DEL", draftTextKey(drafts, field))
end

local function liveDraft(drafts, field, raw, now, idle)
  if #field > 64 or not string.find(field, "^[A-Za-z0-9_%-]+$") then
    return nil
  end
  local ok, draft = pcall(cjson.decode, raw)
  if not ok or type(draft) ~= "table" or not DRAFT_ROLES[draft.role] or not wholeIn(draft.seq, 1, DRAFT_MAX_SEQ) then
    return nil
  end
  if not wholeIn(draft.length, 1, DRAFT_MAX_SEQ) or not wholeIn(draft.updatedAt, 0, 2 ^ 53 - 1) then
    return nil
  end
  -- Idle either way: one dated further ahead than `idle` (no chunk wrote it,
  -- whatever a failover did to the clock) would never go idle and would hold
  -- one of the user's MAX_DRAFTS_PER_USER places for ever.
  if math.abs(now - draft.updatedAt) > idle then
    return nil
  end
  if redis.pcall("STRLEN", draftTextKey(drafts, field)) ~= draft.length then
    return nil
  end
  return draft
end
