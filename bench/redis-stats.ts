/**
 * What Redis itself says about a run: `INFO commandstats` (how many commands
 * of each kind, so round trips per add can be checked exactly) and its own
 * CPU time.
 */
import { Redis } from "ioredis";

/** The bench's own bookkeeping, not part of any variant's traffic. */
const ADMIN_COMMANDS = /^(info|config\|.*|client\|.*|ping|echo|monitor|hello|select|command\|.*|script\|.*|flushall|quit)$/;

/** Calls per command name since the last `CONFIG RESETSTAT` (scripts' commands included), the bench's own left out. */
export async function readCommandCalls(client: Redis): Promise<Record<string, number>> {
  const info = await client.info("commandstats");
  const calls: Record<string, number> = {};
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (!ADMIN_COMMANDS.test(match[1]!)) calls[match[1]!] = Number(match[2]);
  }
  return calls;
}

export async function resetCommandStats(client: Redis): Promise<void> {
  await client.config("RESETSTAT");
}

/** Redis's user + system CPU seconds since it started. */
export async function readRedisCpuSeconds(client: Redis): Promise<number> {
  const info = await client.info("cpu");
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1] ?? 0);
  return field("used_cpu_user") + field("used_cpu_sys");
}

/** Redis's `used_memory` in bytes. */
export async function readRedisMemory(client: Redis): Promise<number> {
  const info = await client.info("memory");
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? 0);
}

/** How long Redis must have run no command before the MONITOR count is closed. */
const QUIET_MS = 300;

/** Commands per connection role (`data`, `pub`, `sub`, `lua` for those a script ran, `other`), by name. */
export type CommandsByRole = Record<string, Record<string, number>>;

/**
 * Counts every command Redis runs while `during` runs, per connection, with
 * MONITOR. Connections are told apart by their CLIENT SETNAME (`…:data`,
 * `…:pub`, `…:sub`), so this says exactly how many round trips each
 * connection made, which INFO commandstats cannot (it also counts the
 * commands a script runs).
 */
export async function countCommandsByRole(redisUrl: string, admin: Redis, during: () => Promise<void>): Promise<CommandsByRole> {
  const roles = new Map<string, string>();
  const list = (await admin.client("LIST")) as string;
  for (const entry of list.split("\n")) {
    const addr = /\baddr=(\S+)/.exec(entry)?.[1];
    const name = /\bname=(\S*)/.exec(entry)?.[1] ?? "";
    if (addr) roles.set(addr, /:(data|pub|sub)$/.exec(name)?.[1] ?? "other");
  }
  const watcher = new Redis(redisUrl);
  const monitor = await watcher.monitor();
  const counts: CommandsByRole = {};
  const marker = `bench-monitor-end-${Date.now()}`;
  let sawMarker: () => void = () => {};
  const done = new Promise<void>((resolve) => (sawMarker = resolve));
  let lastSeen = performance.now();
  monitor.on("monitor", (_time: string, args: string[], source: string) => {
    lastSeen = performance.now();
    const command = (args[0] ?? "").toLowerCase();
    if (command === "echo" && args[1] === marker) return sawMarker();
    const role = source === "lua" ? "lua" : (roles.get(source) ?? "other");
    const byName = counts[role] ?? {};
    counts[role] = byName;
    byName[command] = (byName[command] ?? 0) + 1;
  });
  try {
    await during();
    // Commands a server sent without awaiting them (a fan-out publish after
    // its ack) may still be on their way: wait for Redis to go quiet, then
    // for MONITOR's stream, which lags a little, to show this marker.
    while (performance.now() - lastSeen < QUIET_MS) await new Promise((resolve) => setTimeout(resolve, QUIET_MS / 4));
    await admin.echo(marker);
    await done;
  } finally {
    monitor.disconnect();
    watcher.disconnect();
  }
  return counts;
}
