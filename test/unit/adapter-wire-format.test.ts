import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Encoder } from "socket.io-parser";
import { describe, expect, it } from "vitest";
import {
  ADAPTER_FORMAT_VERSION,
  decodeRoomBroadcast,
  encodeRoomBroadcast,
  type RoomBroadcast,
  readForwardableBroadcast,
  roomBroadcastMessage,
} from "../../server/src/realtime/adapter-wire-format.js";

const SERVER_DIR = join(import.meta.dirname, "../../server");

const broadcast: RoomBroadcast = {
  uid: "a1b2c3",
  room: "user:alice",
  except: ["socket-1"],
  event: "message:new",
  payload: {
    id: "m1",
    userId: "alice",
    role: "user",
    content: 'hé \u2028 "quoted"',
    timestamp: "2026-01-01T00:00:00.000Z",
    meta: { k: [1, null] },
  },
};

describe("adapter wire format", () => {
  it("decodes what it encodes", () => {
    expect(decodeRoomBroadcast(Buffer.from(encodeRoomBroadcast(broadcast)))).toEqual(broadcast);
    const cleared = { uid: "x", room: "user:bob", except: [], event: "history:cleared", payload: {} };
    expect(decodeRoomBroadcast(Buffer.from(encodeRoomBroadcast(cleared)))).toEqual(cleared);
  });

  it("reads anything else as null: other message types, MessagePack, garbage", () => {
    expect(decodeRoomBroadcast(Buffer.from(JSON.stringify({ uid: "u", type: 2, data: {} })))).toBeNull();
    expect(decodeRoomBroadcast(Buffer.from([0x83, 0xa3, 0x75, 0x69, 0x64]))).toBeNull();
    expect(decodeRoomBroadcast(Buffer.from("{not json"))).toBeNull();
    expect(decodeRoomBroadcast(Buffer.from("null"))).toBeNull();
  });

  it("encodes the message the adapter would publish, which any JSON reader reads back whole", () => {
    expect(JSON.parse(encodeRoomBroadcast(broadcast))).toEqual(roomBroadcastMessage(broadcast));
  });

  it("reads the head of what it encodes and leaves the packet as socket.io-parser encodes it", () => {
    const tricky: RoomBroadcast = {
      ...broadcast,
      uid: 'emit,"nsp":"/"',
      room: 'user:a,"packet":{"type":2,"data":[',
      except: ['x"}}}', "socket-2"],
    };
    for (const each of [broadcast, tricky, { ...broadcast, except: [], event: "history:cleared", payload: {} }]) {
      const [expectedPacket] = new Encoder().encode({ type: 2, nsp: "/", data: [each.event, each.payload] });
      const read = readForwardableBroadcast(Buffer.from(encodeRoomBroadcast(each)));
      expect(read && { uid: read.uid, opts: read.opts, packet: read.packet() }).toEqual({
        uid: each.uid,
        opts: { rooms: [each.room], except: each.except, flags: {} },
        packet: expectedPacket,
      });
    }
  });

  it("leaves everything else to the stock path: the adapter's own layout, truncated or foreign messages", () => {
    const encoded = encodeRoomBroadcast(broadcast);
    expect(readForwardableBroadcast(Buffer.from(JSON.stringify(roomBroadcastMessage(broadcast))))).toBeNull();
    expect(readForwardableBroadcast(Buffer.from(encoded.slice(0, -1)))).toBeNull();
    expect(readForwardableBroadcast(Buffer.from(encoded.replace('"type":3', '"type":2')))).toBeNull();
    expect(readForwardableBroadcast(Buffer.from(encoded.replace('"rooms":["user:alice"]', '"rooms":"user:alice"')))).toBeNull();
    expect(readForwardableBroadcast(Buffer.from([0x83, 0xa3, 0x75, 0x69, 0x64]))).toBeNull();
    expect(readForwardableBroadcast(Buffer.from("{}"))).toBeNull();
  });

  it(`was written for the installed @socket.io/redis-adapter (${ADAPTER_FORMAT_VERSION}), which server/package.json pins`, () => {
    const entry = createRequire(join(SERVER_DIR, "package.json")).resolve("@socket.io/redis-adapter");
    const installed = JSON.parse(readFileSync(join(dirname(entry), "..", "package.json"), "utf8")).version as string;
    const pinned = JSON.parse(readFileSync(join(SERVER_DIR, "package.json"), "utf8")).dependencies["@socket.io/redis-adapter"] as string;
    const advice =
      `@socket.io/redis-adapter is ${installed} (pinned "${pinned}") but server/src/realtime/adapter-wire-format.ts was written for ${ADAPTER_FORMAT_VERSION}. ` +
      "Re-read its sharded-adapter.js (encode, computeChannel, onRawMessage, uid) and socket.io-adapter's MessageType, check " +
      "fanout-adapter.ts's AdapterInternals still exist, run test/integration/adapter-wire-format.test.ts, then update ADAPTER_FORMAT_VERSION.";
    expect(installed, advice).toBe(ADAPTER_FORMAT_VERSION);
    expect(pinned, advice).toBe(ADAPTER_FORMAT_VERSION);
  });
});
