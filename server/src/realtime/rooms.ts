/**
 * Each user's connections share one room, on every replica, and the room's
 * Pub/Sub channel lives in the Redis Cluster slot of the user's history key.
 *
 * The room is `user:{<key>}`, e.g. `user:{temp_memory:alice:messages}`: the
 * braces make the key a hash tag, so the room's sharded channel
 * (`socket.io#/#<room>#`, fanout-adapter.ts) hashes to the slot of the key
 * itself (which has no braces: KEY_PREFIX may not contain any, config.ts).
 * So appendMessage.lua and clearHistory.lua can publish `message:new` and
 * `history:cleared` within their write on a Cluster too (a script may touch
 * only its key's slot), and every tab gets a user's adds and clears in the
 * order Redis applied them. The key names the user, so no two users share
 * a room.
 *
 * The sharded Redis adapter gives a room a channel of its own only when the
 * name does not look like a socket id, and its test is the length alone
 * (`looksLikeASocketId` in @socket.io/redis-adapter: exactly 20 characters,
 * braces or not, in UTF-16 code units: String.length). A name of that length
 * (a 1-character KEY_PREFIX and a 2-character user id, or the reverse) gets a
 * `~` appended: no key contains one, so it names no other user's room, and
 * the hash tag stays the same. directWrite.lua counts the same units, not
 * bytes, so a non-ASCII KEY_PREFIX gives it the same channel.
 */
import { messagesKey } from "../store/redis-keys.js";

/** The room name length the sharded adapter takes for a socket id. */
export const SOCKET_ID_LENGTH = 20;

/** The room of `userId`'s connections, whose history key is built with `keyPrefix`. */
export function userRoom(keyPrefix: string, userId: string): string {
  const room = `user:{${messagesKey(keyPrefix, userId)}}`;
  return room.length === SOCKET_ID_LENGTH ? `${room}~` : room;
}
