/**
 * The Redis Function library `scrollback` (PROTOCOL.md §9): one call,
 * `FCALL scrollback_add 3 <list> <ids> <drafts> <message JSON>`, that gives
 * a program writing to Redis directly (the original Python app, any
 * language) the server's own add: dedupe, append, trim, TTL, drafts, inbox
 * and the fan-out to open tabs.
 *
 * One piece of code per idea: the library is built at start from
 * store/lua/appendMessage.lua (wrapped as a function, unchanged) and
 * store/lua/directWrite.lua, with this server's settings and the adapter's
 * broadcast format baked in as Lua constants. Loaded with `FUNCTION LOAD
 * REPLACE` on every master whenever a connection becomes ready, so a
 * restarted Redis, a promoted replica or a new Cluster master gets it again
 * (Redis also replicates and persists functions).
 */
import type { Cluster, Redis } from "ioredis";
import type { Logger } from "pino";
import type { Config } from "./config.js";
import { encodeRoomBroadcast } from "./realtime/adapter-wire-format.js";
import { FANOUT_MAIN_CHANNEL, STORE_SENDER_UID } from "./realtime/fanout-adapter.js";
import { SOCKET_ID_LENGTH } from "./realtime/rooms.js";
import type { RedisClient } from "./redis-connections.js";
import { luaSource } from "./store/lua-scripts.js";

/** The library's name (`FUNCTION LIST LIBRARYNAME scrollback`). */
export const DIRECT_WRITE_LIBRARY = "scrollback";

/** The function a direct writer calls. */
export const DIRECT_WRITE_FUNCTION = "scrollback_add";

export type DirectWriteSettings = Pick<Config, "keyPrefix" | "historyMax" | "historyTtlSeconds" | "maxMessageBytes" | "inbox"> & {
  /** On a Cluster the stream sits in another slot than the user's keys: the function cannot reach it. */
  cluster: boolean;
};

/**
 * A Lua string literal of `text`, byte for byte (Lua 5.1 knows only decimal
 * escapes). Each escape has all three digits: Lua reads up to three, so a
 * short one followed by a digit would be another byte or none (byte 1 then
 * `2` as `\12`, a newline; `"` then `1` as `\341`, which fails to load).
 */
export function luaString(text: string): string {
  let literal = '"';
  for (const byte of Buffer.from(text, "utf8")) {
    const printable = byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c;
    literal += printable ? String.fromCharCode(byte) : `\\${String(byte).padStart(3, "0")}`;
  }
  return `${literal}"`;
}

/**
 * The adapter's broadcast of `message:new` (adapter-wire-format.ts) cut
 * around the Message and the room, which only the function knows: the three
 * pieces around them, and which of the two comes first (the wire format
 * puts the packet last, so the room precedes the Message today).
 */
function broadcastTemplate(): { pieces: [string, string, string]; messageFirst: boolean } {
  const MESSAGE = "\u0001message\u0001";
  const ROOM = "\u0001room\u0001";
  const encoded = encodeRoomBroadcast({ uid: STORE_SENDER_UID, room: ROOM, except: [], event: "message:new", payload: MESSAGE });
  const [message, room] = [JSON.stringify(MESSAGE), JSON.stringify(ROOM)];
  const messageAt = encoded.indexOf(message);
  const roomAt = encoded.indexOf(room);
  if (messageAt < 0 || roomAt < 0) throw new Error("the adapter's broadcast format changed: direct-write-function.ts must follow it");
  const [first, firstText, second, secondText] =
    messageAt < roomAt ? [messageAt, message, roomAt, room] : [roomAt, room, messageAt, message];
  return {
    pieces: [encoded.slice(0, first), encoded.slice(first + firstText.length, second), encoded.slice(second + secondText.length)],
    messageFirst: messageAt < roomAt,
  };
}

/** The library's source for `FUNCTION LOAD`. */
export function directWriteLibrary(settings: DirectWriteSettings): string {
  const { inbox } = settings;
  const inboxSettings =
    inbox && !settings.cluster
      ? `{ stream = ${luaString(inbox.stream)}, maxLen = ${inbox.maxLen}, userPerMinute = ${inbox.userPerMinute}, roles = { ${inbox.roles
          .map((role) => `[${luaString(role)}] = true`)
          .join(", ")} } }`
      : "nil";
  const { pieces, messageFirst } = broadcastTemplate();
  return [
    `#!lua name=${DIRECT_WRITE_LIBRARY}`,
    "-- Built by server/src/direct-write-function.ts: the server's settings, then appendMessage.lua and directWrite.lua.",
    "local SETTINGS = {",
    `  keyPrefix = ${luaString(settings.keyPrefix)},`,
    `  historyMax = ${settings.historyMax},`,
    `  historyTtlSeconds = ${settings.historyTtlSeconds},`,
    `  maxMessageBytes = ${settings.maxMessageBytes},`,
    `  socketIdLength = ${SOCKET_ID_LENGTH},`,
    `  channelPrefix = ${luaString(FANOUT_MAIN_CHANNEL)},`,
    `  broadcast = { ${pieces.map(luaString).join(", ")} },`,
    `  messageFirst = ${messageFirst},`,
    `  inbox = ${inboxSettings},`,
    "}",
    "local function appendMessage(KEYS, ARGV)",
    luaSource("appendMessage"),
    "end",
    luaSource("directWrite"),
  ].join("\n");
}

/** Loads the library on one node; a replica (READONLY) is skipped, anything else reported. */
async function loadOn(node: Redis, library: string, logger: Logger): Promise<void> {
  try {
    await node.call("FUNCTION", "LOAD", "REPLACE", library);
  } catch (error) {
    if (error instanceof Error && /^READONLY\b/.test(error.message)) return;
    logger.warn({ err: error, node: `${node.options.host}:${node.options.port}` }, "could not load the scrollback Redis Function");
  }
}

/**
 * Loads the library now and whenever `client` becomes ready again (a
 * reconnect, a Sentinel failover) and, on a Cluster, on each node whenever
 * its own connection becomes ready (a replica answers READONLY and is
 * skipped: it gets the function from its master). A failure (an ACL without
 * FUNCTION, Redis before 7.0) is logged and does not stop the server: only
 * direct writers need it.
 */
export function keepDirectWriteFunctionLoaded(client: RedisClient, library: string, logger: Logger): void {
  if (!client.isCluster) {
    watch(client as Redis, library, logger);
    return;
  }
  const cluster = client as Cluster;
  const watched = new WeakSet<Redis>();
  const watchOnce = (node: Redis) => {
    if (watched.has(node)) return;
    watched.add(node);
    watch(node, library, logger);
  };
  // ioredis connects to a Cluster node lazily, on its first command: a
  // master no user has touched yet is connected here, so it gets the library.
  const watchMasters = () => {
    for (const node of cluster.nodes("master")) {
      watchOnce(node);
      if (node.status === "wait") node.connect().catch(() => undefined);
    }
  };
  cluster.on("+node", watchOnce);
  cluster.on("ready", watchMasters);
  if (cluster.status === "ready") watchMasters();
}

/** Loads on `node` now if it is ready, and on each of its `ready` events. */
function watch(node: Redis, library: string, logger: Logger): void {
  node.on("ready", () => void loadOn(node, library, logger));
  if (node.status === "ready") void loadOn(node, library, logger);
}
