/**
 * The inbox's cost (PROTOCOL.md §8): the `add` case twice in one run, with
 * `INBOX_STREAM` off and on, rounds alternating, on the same Redis. With it
 * on, the add's script also appends every message to a Redis Stream
 * (`XADD … MAXLEN ~`), so the difference is the price of hearing users.
 * The per-user quota (INBOX_USER_PER_MINUTE) is off: a bench user sends far
 * more than a person, and a refused add would measure nothing.
 */
import type { BenchContext, ServerSet } from "../fleet.js";
import { startServers } from "../fleet.js";
import { medianOf, type ThroughputResult } from "../results.js";
import { addCase } from "./add.js";
import { measureWindow, planFor } from "./throughput.js";

/** The stream the "on" servers append to (flushed with everything else before each window). */
export const BENCH_INBOX_STREAM = "bench:inbox";

export interface InboxResult {
  off: ThroughputResult;
  on: ThroughputResult;
  /** Adds/s with the inbox on, as a share of adds/s with it off. */
  throughputRatio: number;
  /** Redis CPU microseconds per add, off and on, and what the inbox adds. */
  redisCpuMicrosPerAdd: { off: number; on: number; added: number };
  /** Server (Node) CPU microseconds per add, off and on. */
  serverCpuMicrosPerAdd: { off: number; on: number };
  /** XADD calls per add (INFO commandstats over the "on" probe of exactly probeAdds adds): 1, each add appended once. */
  xaddCallsPerAdd: number;
}

/** Runs the `add` case on two scrollback servers, one with the inbox off and one with it on; figures are medians of the rounds. */
export async function runInbox(context: BenchContext): Promise<InboxResult> {
  const { options } = context;
  const withEnv = (env: Record<string, string>): BenchContext => ({ ...context, options: { ...options, env: { ...options.env, ...env } } });
  const sets: Record<"off" | "on", ServerSet | undefined> = { off: undefined, on: undefined };
  try {
    sets.off = await startServers(withEnv({ INBOX_STREAM: "" }), "scrollback", 1, "inbox-off");
    sets.on = await startServers(withEnv({ INBOX_STREAM: BENCH_INBOX_STREAM, INBOX_USER_PER_MINUTE: "0" }), "scrollback", 1, "inbox-on");
    const rounds: Record<"off" | "on", ThroughputResult[]> = { off: [], on: [] };
    let xaddCallsPerAdd = 0;
    for (let round = 0; round < options.rounds; round++) {
      for (const side of round % 2 === 0 ? (["off", "on"] as const) : (["on", "off"] as const)) {
        const set = sets[side]!;
        const result = await measureWindow(context, {
          event: addCase.event,
          variant: "scrollback",
          servers: set,
          plans: planFor(set.urls, context.options.users, false, context.options.generators),
          probe: round === 0,
        });
        if (round === 0 && side === "on") {
          xaddCallsPerAdd = result.commandStatsPerAdd?.xadd ?? 0;
        }
        rounds[side].push(result);
        context.log?.(`inbox ${side} round ${round + 1}: ${Math.round(result.perSecond)} adds/s, p99 ${result.p99Ms?.toFixed(2)} ms`);
      }
    }
    const off = medianOf(rounds.off);
    const on = medianOf(rounds.on);
    const micros = (per1k: number) => per1k * 1000;
    return {
      off,
      on,
      throughputRatio: on.perSecond / off.perSecond,
      redisCpuMicrosPerAdd: {
        off: micros(off.redisCpuPer1k),
        on: micros(on.redisCpuPer1k),
        added: micros(on.redisCpuPer1k - off.redisCpuPer1k),
      },
      serverCpuMicrosPerAdd: { off: micros(off.serverCpuPer1k), on: micros(on.serverCpuPer1k) },
      xaddCallsPerAdd,
    };
  } finally {
    await Promise.all(Object.values(sets).map((set) => set?.stop()));
  }
}

/** The inbox's lines of the printed table. */
export function formatInbox(result: InboxResult): string {
  const { off, on } = result;
  const f = (value: number | null | undefined, digits: number) =>
    value === null || value === undefined
      ? "—"
      : value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  const rows: [string, string, string, string][] = [
    ["adds/s", f(off.perSecond, 0), f(on.perSecond, 0), `${f(result.throughputRatio, 2)}×`],
    ["ack p50 ms", f(off.p50Ms, 2), f(on.p50Ms, 2), ""],
    ["ack p99 ms", f(off.p99Ms, 2), f(on.p99Ms, 2), ""],
    [
      "redis CPU µs/add",
      f(result.redisCpuMicrosPerAdd.off, 1),
      f(result.redisCpuMicrosPerAdd.on, 1),
      `+${f(result.redisCpuMicrosPerAdd.added, 1)}`,
    ],
    ["server CPU µs/add", f(result.serverCpuMicrosPerAdd.off, 1), f(result.serverCpuMicrosPerAdd.on, 1), ""],
    ["data conn cmds/add", f(off.dataCommandsPerAdd, 3), f(on.dataCommandsPerAdd, 3), ""],
    ["XADD calls/add", f(off.commandStatsPerAdd?.xadd ?? 0, 3), f(result.xaddCallsPerAdd, 3), ""],
    ["errors + lost", f(errorsOf(off), 0), f(errorsOf(on), 0), ""],
  ];
  const header: [string, string, string, string] = ["inbox", "off", "on", "on/off"];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  return [header, ...rows]
    .map((cells) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  "))
    .join("\n");
}

const errorsOf = (result: ThroughputResult) => Object.values(result.errors).reduce((sum, count) => sum + count, 0) + result.lost;
