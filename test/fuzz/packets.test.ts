/**
 * Malformed Engine.IO / Socket.IO packets, sent by hand over a raw WebSocket
 * (and the polling transport) to a server child process: the packets of the
 * published socket.io-parser and socket.io advisories, packets with too many
 * binary attachments, truncated and invalid frames, invalid UTF-8, deep
 * nesting, reserved event names. None may crash the process or disturb
 * another client; the offending connection is answered or closed.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { connect, request, requestOk, type TestSocket } from "../support/clients.js";
import { openRaw, type RawSocket } from "../support/raw-socket.js";
import { type ServerProcess, spawnServer } from "../support/servers.js";

let server: ServerProcess;
let bystander: TestSocket;
const raws: RawSocket[] = [];

beforeAll(async () => {
  server = await spawnServer({ STORE: "memory", LOG_LEVEL: "warn" });
  bystander = await connect(server.url, { userId: "bystander" });
  await request(bystander, "message:add", { id: "before", content: "before the attack" });
});

afterAll(async () => {
  for (const raw of raws) raw.close();
  bystander?.close();
  await server?.stop();
});

afterEach(async () => {
  // The process is alive, still serves HTTP, and the other user's connection still works.
  expect(server.process.exitCode).toBeNull();
  expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  const answer = await requestOk(bystander, "history:load");
  expect(answer.messages.map((message: { id: string }) => message.id)).toEqual(["before"]);
});

async function attacker(): Promise<RawSocket> {
  const raw = await openRaw(server.url, { userId: "attacker" });
  raws.push(raw);
  return raw;
}

/** Sends frames on a fresh connection and resolves with "closed" or the ack of a probe sent afterwards. */
async function outcome(frames: (string | Buffer | { text: Buffer })[]): Promise<"closed" | "answered"> {
  const raw = await attacker();
  for (const frame of frames) {
    if (typeof frame === "object" && "text" in frame) raw.send(frame.text, { text: true });
    else raw.send(frame);
  }
  // A probe with ack id 900: if the connection survived, it answers.
  raw.send('42900["history:load"]');
  return Promise.race([raw.closed.then(() => "closed" as const), raw.next("43900").then(() => "answered" as const)]);
}

describe("CVE-2022-2421: attachment placeholders pointing anywhere", () => {
  it('the advisory\'s packet (num: "splice") then a binary frame: the connection is closed', async () => {
    expect(await outcome(['451-["message:add",{"_placeholder":true,"num":"splice"}]', Buffer.from("payload")])).toBe("closed");
  });

  it.each([
    '451-["message:add",{"_placeholder":true,"num":"__proto__"}]',
    '451-["message:add",{"_placeholder":true,"num":"toString"}]',
    '451-["message:add",{"_placeholder":true,"num":99}]',
    '451-["message:add",{"_placeholder":true,"num":-1}]',
    '451-["message:add",{"_placeholder":true,"num":0.5}]',
    '451-["message:add",{"content":{"_placeholder":true,"num":"constructor"}}]',
  ])("%s then a binary frame: refused without a crash", async (packet) => {
    expect(["closed", "answered"]).toContain(await outcome([packet, Buffer.from("payload")]));
  });
});

describe("CVE-2023-32695: event names that are not strings", () => {
  it.each([
    '42[{"toString":"foo"}]',
    '421[{"toString":"foo"}]',
    "42[{}]",
    "42[]",
    "42[null]",
    '42[["message:add"]]',
    '42{"a":1}',
    '42"message:add"',
    "42[true]",
  ])("%s: refused without a crash", async (packet) => {
    expect(["closed", "answered"]).toContain(await outcome([packet]));
  });

  it("a numeric event name is an unknown event", async () => {
    const raw = await attacker();
    raw.send("421[42,{}]");
    expect(JSON.parse((await raw.next("431")).slice(3))).toMatchObject([{ ok: false, error: { code: "UNKNOWN_EVENT" } }]);
  });
});

describe("CVE-2024-38355: reserved and special event names", () => {
  it.each(["error", "disconnect", "disconnecting", "connect", "connect_error", "newListener", "removeListener"])(
    "an event named %s, with and without an ack, is refused without a crash",
    async (name) => {
      expect(["closed", "answered"]).toContain(await outcome([`42["${name}"]`, `42["${name}",{"content":"x"}]`, `421["${name}",{}]`]));
    },
  );

  it("an event named error with an ack is answered UNKNOWN_EVENT", async () => {
    const raw = await attacker();
    raw.send('427["error",{}]');
    expect(JSON.parse((await raw.next("437")).slice(3))).toMatchObject([{ ok: false, error: { code: "UNKNOWN_EVENT" } }]);
  });
});

describe("binary attachments", () => {
  it.each(["4511-", "45100000-", "4599999999999999999999-"])(
    "a packet announcing %s attachments is refused and the connection closed",
    async (prefix) => {
      expect(
        await outcome([`${prefix}["message:add",{"_placeholder":true,"num":0}]`, ...Array.from({ length: 12 }, () => Buffer.alloc(10))]),
      ).toBe("closed");
    },
  );

  it("binary frames nobody announced close the connection", async () => {
    expect(await outcome(Array.from({ length: 50 }, (_, i) => Buffer.alloc(1_000, i)))).toBe("closed");
  });

  it("a binary attachment where a string belongs is INVALID_PAYLOAD", async () => {
    const raw = await attacker();
    raw.send('451-7["message:add",{"content":{"_placeholder":true,"num":0}}]');
    raw.send(Buffer.from("binary content"));
    expect(JSON.parse((await raw.next("437")).slice(3))).toMatchObject([
      { ok: false, error: { code: "INVALID_PAYLOAD", message: expect.stringMatching(/^content/) } },
    ]);
  });
});

describe("malformed frames", () => {
  it.each([
    ["an unknown Engine.IO type", "9"],
    ["an empty frame", ""],
    ["a bare message type", "4"],
    ["an event without data", "42"],
    ["truncated JSON", '42["message:add",{"content":"x"'],
    ["an ack id that is not a number", '42abc["history:load"]'],
    ["a huge ack id", '42999999999999999999999999["history:load"]'],
    ["an unknown namespace", '42/admin,["history:load"]'],
    ["a connect to an unknown namespace", "40/admin,"],
    ["an ack the server never asked for", "431[{}]"],
    ["a disconnect packet with data", '41{"a":1}'],
    ["a ping flood", ...Array.from({ length: 2_000 }, () => "2")],
  ])("%s: no crash", async (_name, ...frames) => {
    expect(["closed", "answered"]).toContain(await outcome(frames));
  });

  it("a text frame that is not valid UTF-8 closes the connection", async () => {
    expect(await outcome([{ text: Buffer.from([0x34, 0x32, 0x5b, 0x22, 0xc3, 0x28, 0xff, 0x22, 0x5d]) }])).toBe("closed");
  });

  it("nesting 100,000 deep is refused without a crash", async () => {
    const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
    expect(["closed", "answered"]).toContain(await outcome([`42["message:add",${deep}]`, `42["message:add",{"content":${deep}}]`]));
  });

  it("a frame over 1 MB closes the connection", async () => {
    expect(await outcome([`42["message:add",{"content":"${"x".repeat(1_100_000)}"}]`])).toBe("closed");
  });

  it("a second connect packet claiming another user closes the connection", async () => {
    expect(await outcome(['40{"userId":"bystander"}'])).toBe("closed");
  });
});

describe("the polling transport", () => {
  const polling = () => `${server.url}/socket.io/?EIO=4&transport=polling`;

  it("answers garbage, unknown sessions, old protocols and oversized bodies with 4xx", async () => {
    const handshake = await (await fetch(polling())).text();
    const { sid } = JSON.parse(handshake.slice(1)) as { sid: string };
    const attempts = [
      fetch(`${polling()}&sid=unknown`, { method: "POST", body: "40" }),
      fetch(`${polling()}&sid=${sid}`, { method: "POST", body: "x".repeat(1_100_000) }),
      fetch(`${server.url}/socket.io/?EIO=3&transport=polling`),
      fetch(`${server.url}/socket.io/?EIO=4&transport=carrier-pigeon`),
    ];
    for (const response of await Promise.all(attempts)) {
      expect(response.status, await response.text()).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
    }
    // Engine.IO answers other methods on a live session with a bare 500; it only has to survive them.
    for (const method of ["PUT", "DELETE", "PATCH"]) await fetch(`${polling()}&sid=${sid}`, { method, body: "40" });
  });
});

describe("afterwards", () => {
  it("the server logged no uncaught error", () => {
    expect(server.output()).not.toMatch(/uncaught|unhandled/i);
  });
});
