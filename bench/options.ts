/** `npm run bench -- [options]`: what the bench runs and for how long. */
import { parseArgs } from "node:util";

export const CASES = ["add", "fanout", "load", "idle", "inbox", "drafts"] as const;
export type CaseName = (typeof CASES)[number];
/** What runs without --cases: inbox and drafts only when asked for. */
const DEFAULT_CASES: CaseName[] = ["add", "fanout", "load", "idle"];

export interface BenchOptions {
  quick: boolean;
  cases: CaseName[];
  /** Only these variants (default: scrollback and both baselines). */
  variants: ("scrollback" | "ceiling" | "naive")[];
  /** Users (connections per replica) in the throughput cases. */
  users: number;
  /** Requests outstanding per sending connection. */
  inflight: number;
  warmupSeconds: number;
  durationSeconds: number;
  /** Measured windows per variant in each throughput case, alternating variants; figures are their medians. */
  rounds: number;
  /** Connections in the idle case. */
  idleConnections: number;
  /** Load generator processes for the throughput cases (the idle case uses at least 2). */
  generators: number;
  contentBytes: number;
  /** drafts case: pause between two chunks of one reply, in ms (0: closed loop, as fast as acks come back). */
  chunkIntervalMs: number;
  /** Adds sent during the exact `INFO commandstats` check. */
  probeAdds: number;
  clientIds: boolean;
  /** Write V8 CPU profiles of the server processes to this folder. */
  profileDir?: string;
  /** Extra environment for the scrollback servers, e.g. to try a setting. */
  env: Record<string, string>;
  /** Where the JSON result goes (default bench/results/<date>.json). */
  out?: string;
}

const HELP = `npm run bench -- [options]
  --quick                 short runs (under 2 minutes in all)
  --cases add,fanout,load,idle   (default; also: inbox = add with INBOX_STREAM off and on,
                          drafts = draft chunks on replica 1 fanned out to tabs on replica 2)
  --variants scrollback,ceiling,naive
  --users N               connections per replica in the throughput cases (50)
  --inflight W            requests outstanding per connection (8)
  --warmup S --duration S seconds of warm-up and of measurement per round (2, 5; quick: 1, 2)
  --rounds R              rounds per case, variants alternating; figures are medians (3; quick: 2)
  --idle N                connections in the idle case (10000; quick: 5000)
  --generators G          load generator processes (1)
  --content-bytes B       size of each message's content (128)
  --chunk-interval MS     drafts: pause between two chunks of one reply (0: closed loop)
  --server-ids            send adds without an id (the server assigns one)
  --profile DIR           write --cpu-prof profiles of the servers to DIR
  --env KEY=VALUE         extra setting for the scrollback servers (repeatable)
  --out FILE              where to write the JSON result`;

export function parseBenchOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      cases: { type: "string" },
      variants: { type: "string" },
      users: { type: "string" },
      inflight: { type: "string" },
      warmup: { type: "string" },
      duration: { type: "string" },
      rounds: { type: "string" },
      idle: { type: "string" },
      generators: { type: "string" },
      "content-bytes": { type: "string" },
      "chunk-interval": { type: "string" },
      "server-ids": { type: "boolean", default: false },
      profile: { type: "string" },
      env: { type: "string", multiple: true },
      out: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const quick = values.quick === true;
  const number = (value: string | undefined, fallback: number, name: string) => {
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`--${name}: must be a positive number`);
    return parsed;
  };
  const list = <T extends string>(value: string | undefined, allowed: readonly T[], name: string, fallback?: readonly T[]): T[] => {
    if (value === undefined) return [...(fallback ?? allowed)];
    const items = value.split(",").map((item) => item.trim());
    for (const item of items) if (!allowed.includes(item as T)) throw new Error(`--${name}: unknown ${item} (${allowed.join(", ")})`);
    return items as T[];
  };
  const env: Record<string, string> = {};
  for (const entry of values.env ?? []) {
    const at = entry.indexOf("=");
    if (at < 1) throw new Error(`--env: expected KEY=VALUE, got ${entry}`);
    env[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return {
    quick,
    cases: list(values.cases, CASES, "cases", DEFAULT_CASES),
    variants: list(values.variants, ["scrollback", "ceiling", "naive"] as const, "variants"),
    users: number(values.users, 50, "users"),
    inflight: number(values.inflight, 8, "inflight"),
    warmupSeconds: number(values.warmup, quick ? 1 : 2, "warmup"),
    durationSeconds: number(values.duration, quick ? 2 : 5, "duration"),
    rounds: Math.round(number(values.rounds, quick ? 2 : 3, "rounds")),
    idleConnections: number(values.idle, quick ? 5_000 : 10_000, "idle"),
    generators: number(values.generators, 1, "generators"),
    contentBytes: number(values["content-bytes"], 128, "content-bytes"),
    chunkIntervalMs: number(values["chunk-interval"], 0, "chunk-interval"),
    probeAdds: 2_000,
    clientIds: values["server-ids"] !== true,
    profileDir: values.profile,
    env,
    out: values.out,
  };
}
