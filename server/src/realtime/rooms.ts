/**
 * Each user's connections share one room, on every replica.
 *
 * The sharded Redis adapter gives a room a Pub/Sub channel of its own only
 * when the room name does not look like a socket id, and its test is the
 * length alone (`looksLikeASocketId` in @socket.io/redis-adapter: exactly 20
 * characters). `user:` plus a 15-character id is 20: such a user's
 * broadcasts went over the main channel, where `scrollback tail` (which
 * listens on the room's channel) never saw them. So a name of that length
 * gets a `~` appended: no user id contains one, so it names no other
 * user's room, and every other name stays as it was.
 */

/** The room name length the sharded adapter takes for a socket id. */
export const SOCKET_ID_LENGTH = 20;

export function userRoom(userId: string): string {
  const room = `user:${userId}`;
  return room.length === SOCKET_ID_LENGTH ? `${room}~` : room;
}
