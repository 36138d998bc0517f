/** server/src/realtime/rooms.ts: no user's room name can pass for a socket id, and no two users share one. */
import { expect, it } from "vitest";
import { SOCKET_ID_LENGTH, userRoom } from "../../server/src/realtime/rooms.js";

it("no user id of any allowed length (1–128) makes a room name of a socket id's length, and the names stay distinct", () => {
  const rooms = new Map<string, string>();
  for (let length = 1; length <= 128; length++) {
    for (const userId of ["u".repeat(length), ":".repeat(length), `${"a".repeat(length - 1)}~`.slice(-length).replace("~", "-")]) {
      const room = userRoom(userId);
      expect({ userId, length: room.length === SOCKET_ID_LENGTH }).toEqual({ userId, length: false });
      expect(rooms.get(room) ?? userId).toBe(userId);
      rooms.set(room, userId);
    }
  }
  expect(userRoom("u".repeat(14))).toBe(`user:${"u".repeat(14)}`);
  expect(userRoom("u".repeat(15))).toBe(`user:${"u".repeat(15)}~`);
});
