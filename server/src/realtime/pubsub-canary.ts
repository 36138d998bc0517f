/**
 * A pub/sub canary: notices a fan-out subscription that went deaf without
 * its connection closing (a half-open TCP connection, a proxy or NAT that
 * dropped state, a shard channel Redis unsubscribed on its own). Such a
 * replica would still take writes while its users stopped seeing other
 * replicas' messages, and nothing else would tell.
 *
 * Every `intervalMs` the replica SPUBLISHes to its own canary channels,
 * which its fan-out subscriber connection subscribes to: one channel for a
 * single Redis, one per master for a Cluster (sharded Pub/Sub gives each
 * master its own subscriber connection). When a channel has delivered
 * nothing for `staleAfterMs`, the canary reports the subscription as broken
 * (`scrollback_pubsub_up 0` in /metrics, an error in the log) and, if
 * publishing still works, reconnects the subscriber, whose subscriptions
 * ioredis then restores. `/readyz` keeps following the store alone
 * (PROTOCOL.md §5).
 */
import { randomUUID } from "node:crypto";
import calculateSlot from "cluster-key-slot";
import type { Cluster } from "ioredis";
import type { Logger } from "pino";
import type { Metrics } from "../metrics.js";
import type { RedisClient } from "../redis-connections.js";

const CHANNEL_PREFIX = "scrollback:canary";

export interface PubsubCanaryOptions {
  pub: RedisClient;
  sub: RedisClient;
  metrics: Metrics;
  logger: Logger;
  /** How often to publish. */
  intervalMs?: number;
  /** A channel silent for this long counts as broken. */
  staleAfterMs?: number;
  /** At most one reconnect of the subscriber per this long. */
  healCooldownMs?: number;
}

export interface PubsubCanary {
  stop(): void;
}

/** A hash tag (`{tag}`) per Cluster slot, found once and kept: the canary needs one channel in a slot of each master. */
const tagBySlot = new Map<number, string>();
function tagForSlot(slot: number): string {
  let tag = tagBySlot.get(slot);
  for (let candidate = 0; tag === undefined; candidate++) {
    if (calculateSlot(String(candidate)) === slot) tag = String(candidate);
  }
  tagBySlot.set(slot, tag);
  return tag;
}

/** Starts publishing and watching; call `stop()` before closing the connections. */
export function startPubsubCanary(options: PubsubCanaryOptions): PubsubCanary {
  const { pub, sub, metrics, logger } = options;
  const intervalMs = options.intervalMs ?? 1_000;
  const staleAfterMs = options.staleAfterMs ?? 3_000;
  const healCooldownMs = options.healCooldownMs ?? 10_000;
  const base = `${CHANNEL_PREFIX}:${randomUUID()}`;

  /** Per channel: when a canary message last arrived (or when we subscribed, as a grace period). */
  const lastHeard = new Map<string, number>();
  /**
   * Per channel: publishes Redis has acknowledged since the last message
   * heard. Replies and messages arrive in the same turns of the event loop,
   * so a busy or paused process does not make this grow; only a subscriber
   * that does not hear does.
   */
  const unanswered = new Map<string, number>();
  let lastHeal = 0;
  let healthy = true;

  const onMessage = (channel: string) => {
    if (!lastHeard.has(channel)) return;
    lastHeard.set(channel, Date.now());
    unanswered.set(channel, 0);
  };
  sub.on("smessage", onMessage);

  /** One channel for a single Redis; one in the first slot of each master for a Cluster. */
  const wantedChannels = (): string[] => {
    if (!sub.isCluster) return [base];
    const firstSlotByMaster = new Map<string, number>();
    (sub as Cluster).slots.forEach((nodeKeys, slot) => {
      const master = nodeKeys?.[0];
      if (master !== undefined && !firstSlotByMaster.has(master)) firstSlotByMaster.set(master, slot);
    });
    return [...firstSlotByMaster.values()].map((slot) => `${base}:{${tagForSlot(slot)}}`);
  };

  const setHealthy = (value: boolean) => {
    metrics.pubsubUp.set(value ? 1 : 0);
    if (value === healthy) return;
    healthy = value;
    if (value) logger.info("fan-out subscription delivers again");
    else logger.error({ staleAfterMs }, "fan-out subscription is silent: canary messages stopped arriving");
  };

  const tick = () => {
    const now = Date.now();
    const channels = wantedChannels();
    for (const channel of channels) {
      if (!lastHeard.has(channel)) {
        lastHeard.set(channel, now);
        // Each channel on its own: in a Cluster they live on different masters.
        sub.ssubscribe(channel).catch((error: Error) => logger.warn({ err: error.message, channel }, "canary subscribe failed"));
      }
      pub.spublish(channel, String(now)).then(
        () => unanswered.set(channel, (unanswered.get(channel) ?? 0) + 1),
        () => {},
      );
    }
    // Every channel has an entry by now (set above); `?? now` only satisfies the type.
    const silent = channels.filter((channel) => now - (lastHeard.get(channel) ?? now) > staleAfterMs);
    setHealthy(silent.length === 0);
    // The silent channel's master takes publishes (several, unanswered) and
    // the subscriber thinks it is connected: it is deaf, reconnect it. (A
    // subscriber that is already reconnecting is left to ioredis.)
    const deaf = silent.filter((channel) => (unanswered.get(channel) ?? 0) * intervalMs > staleAfterMs);
    if (deaf.length > 0 && sub.status === "ready" && now - lastHeal > healCooldownMs) {
      lastHeal = now;
      // Still reported broken until canary messages arrive again.
      logger.warn({ channels: deaf.length }, "reconnecting the fan-out subscriber");
      sub.disconnect(true);
    }
  };

  const timer = setInterval(tick, intervalMs);
  timer.unref();
  tick();

  return {
    stop() {
      clearInterval(timer);
      sub.off("smessage", onMessage);
    },
  };
}
