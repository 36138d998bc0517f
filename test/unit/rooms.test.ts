/**
 * server/src/realtime/rooms.ts: no user's room name can pass for a socket id,
 * no two users share one, and each room's channel lives in the Cluster slot
 * of the user's history key (so the store's scripts can publish on it).
 */
import calculateSlot from "cluster-key-slot";
import { expect, it } from "vitest";
import { userRoomChannel } from "../../server/src/realtime/fanout-adapter.js";
import { SOCKET_ID_LENGTH, userRoom } from "../../server/src/realtime/rooms.js";
import { messagesKey } from "../../server/src/store/redis-keys.js";

const PREFIXES = ["t", "tm", "temp_memory", "a.b:c-d"];
const idsOfLength = (length: number) => ["u".repeat(length), ":".repeat(length), `${"a".repeat(length - 1)}-`.slice(-length)];

it("no user id of any allowed length (1–128) makes a room name of a socket id's length, under any prefix, and the names stay distinct", () => {
  for (const prefix of PREFIXES) {
    const rooms = new Map<string, string>();
    for (let length = 1; length <= 128; length++) {
      for (const userId of idsOfLength(length)) {
        const room = userRoom(prefix, userId);
        expect({ prefix, userId, length: room.length === SOCKET_ID_LENGTH }).toEqual({ prefix, userId, length: false });
        expect(rooms.get(room) ?? userId).toBe(userId);
        rooms.set(room, userId);
      }
    }
  }
  expect(userRoom("temp_memory", "alice")).toBe("user:{temp_memory:alice:messages}");
  // A 1-character prefix and a 2-character id would make 20 characters.
  expect(userRoom("t", "ab")).toBe("user:{t:ab:messages}~");
});

it("each room's channel hashes to the Cluster slot of the user's history key", () => {
  for (const prefix of PREFIXES) {
    for (let length = 1; length <= 128; length += 7) {
      for (const userId of idsOfLength(length)) {
        expect({ prefix, userId, slot: calculateSlot(userRoomChannel(prefix, userId)) }).toEqual({
          prefix,
          userId,
          slot: calculateSlot(messagesKey(prefix, userId)),
        });
      }
    }
  }
});
