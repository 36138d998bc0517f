/**
 * A replica whose fan-out subscriber connection (`scrollback:sub`) drops
 * misses every broadcast published until it has subscribed again, and its
 * tabs, still connected, would never know: nothing makes them catch up.
 * So once that connection is back (ioredis has sent its subscriptions again,
 * ahead of anything else), every local connection is disconnected: each tab
 * reconnects and loads what it missed with `afterId` (PROTOCOL.md §4).
 *
 * Waiting for the connection to be back rather than disconnecting at once
 * keeps tabs from reconnecting, catching up, and then missing more before the
 * subscription is there again. A subscriber the pub/sub canary finds deaf is
 * reconnected by the canary (pubsub-canary.ts), which lands here too.
 */
import type { Logger } from "pino";
import type { RedisClient } from "../redis-connections.js";
import type { ScrollbackServer } from "./types.js";

/** Disconnects `io`'s local connections each time `sub` is ready again after losing its connection. */
export function disconnectOnSubscriptionLoss(io: ScrollbackServer, sub: RedisClient, logger: Logger): void {
  let wasReady = sub.status === "ready";
  let lost = false;
  const onReady = () => {
    wasReady = true;
    if (!lost) return;
    lost = false;
    const count = io.of("/").sockets.size;
    logger.warn({ connections: count }, "fan-out subscription restored: disconnecting local connections so they catch up");
    // Local only (no broadcast through the adapter): the other replicas kept their subscriptions.
    io.local.disconnectSockets(true);
  };
  const onClose = () => {
    if (wasReady) lost = true;
  };
  sub.on("ready", onReady);
  sub.on("close", onClose);
  sub.on("end", onClose);
}
