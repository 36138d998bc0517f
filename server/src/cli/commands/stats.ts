/**
 * `scrollback stats`: users, messages and Redis memory (from Redis), how
 * many replicas listen on the fan-out (the adapter's own count), and each
 * replica's connections (from its /metrics).
 */

import { FANOUT_MAIN_CHANNEL } from "../../realtime/fanout-adapter.js";
import type { RedisClient } from "../../redis-connections.js";
import type { Command } from "../command.js";
import { countMessages, dataNodes, scanUserIds } from "../keyspace.js";
import { columns, formatBytes } from "../output.js";
import { describeTarget, redisFailure } from "../redis-client.js";
import { expandReplicaUrls, fetchReplicaStats, type ReplicaStats } from "../replicas.js";

export interface RedisFigures {
  version: string;
  users: number;
  messages: number;
  usedMemoryBytes: number;
  /** 0 when no limit is set. */
  maxMemoryBytes: number;
  maxMemoryPolicy: string;
  /** Replicas subscribed to the fan-out's main channel (PUBSUB SHARDNUMSUB), as the adapter counts servers. */
  replicasListening: number;
}

export const statsCommand: Command = {
  name: "stats",
  usage: "",
  summary: "users, messages, Redis memory, and connections per replica",
  options: ["replica"],
  async run({ connect, config, out, replicas }) {
    const client = await connect("data");
    const [redis, replicaStats] = await Promise.all([
      readRedisFigures(client, config.keyPrefix).catch((error: unknown) => {
        throw redisFailure(error, "reading Redis figures");
      }),
      expandReplicaUrls(replicas).then((urls) => Promise.all(urls.map(fetchReplicaStats))),
    ]);
    const unreachable = replicaStats.filter((replica) => !replica.ok);

    if (out.json) {
      out.value({ redis: { target: describeTarget(config.redis), ...redis }, replicas: replicaStats });
    } else {
      const memory = `${formatBytes(redis.usedMemoryBytes)} used, ${
        redis.maxMemoryBytes > 0 ? `maxmemory ${formatBytes(redis.maxMemoryBytes)}` : "no maxmemory"
      }, policy ${redis.maxMemoryPolicy}`;
      for (const line of columns([
        ["redis", `${describeTarget(config.redis)} (${redis.version})`],
        ["users", String(redis.users)],
        ["messages", String(redis.messages)],
        ["memory", memory],
        ["replicas", `${redis.replicasListening} listening on the fan-out`],
      ])) {
        out.line(line);
      }
      if (replicaStats.length > 0) {
        out.line();
        for (const line of columns([["replica", "connections", "store", "messages added"], ...replicaStats.map(replicaRow)]))
          out.line(line);
      } else {
        out.note("for connections per replica, pass --replica URL (or set SCROLLBACK_REPLICAS)");
      }
    }
    for (const replica of unreachable) out.note(`replica ${replica.url} did not answer: ${replica.error}`);
    return unreachable.length > 0 ? 4 : 0;
  },
};

function replicaRow(replica: ReplicaStats): string[] {
  if (!replica.ok) return [replica.url, "-", "-", `unreachable (${replica.error})`];
  return [replica.url, String(replica.connections), replica.redisUp === false ? "DOWN" : "up", String(replica.messagesAdded)];
}

/** `INFO` text as key → value. */
function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon > 0 && !line.startsWith("#")) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

async function readRedisFigures(client: RedisClient, prefix: string): Promise<RedisFigures> {
  const users = await scanUserIds(client, prefix);
  const messages = await countMessages(client, prefix, users);
  // A Cluster spreads keys over its masters: add up their memory; listeners sit on one shard.
  let usedMemoryBytes = 0;
  let maxMemoryBytes = 0;
  let maxMemoryPolicy = "";
  let version = "";
  let replicasListening = 0;
  for (const node of dataNodes(client)) {
    const info = parseInfo(await node.info());
    usedMemoryBytes += Number(info.get("used_memory") ?? 0);
    maxMemoryBytes += Number(info.get("maxmemory") ?? 0);
    maxMemoryPolicy ||= info.get("maxmemory_policy") ?? "unknown";
    version ||= `Redis ${info.get("redis_version") ?? "?"}`;
    const reply = (await node.call("PUBSUB", "SHARDNUMSUB", FANOUT_MAIN_CHANNEL)) as [string, number];
    replicasListening = Math.max(replicasListening, Number(reply[1] ?? 0));
  }
  return { version, users: users.length, messages, usedMemoryBytes, maxMemoryBytes, maxMemoryPolicy, replicasListening };
}
