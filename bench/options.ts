/** `npm run bench -- [options]`: what the bench runs and for how long. */
import { parseArgs } from "node:util";

export const CASES = ["add", "fanout", "load", "idle", "scale", "inbox", "drafts"] as const;
export type CaseName = (typeof CASES)[number];
/** What runs without --cases: `scale` takes minutes, and it, inbox and drafts run only when asked for. */
export const DEFAULT_CASES: CaseName[] = ["add", "fanout", "load", "idle"];
export const VARIANTS = ["scrollback", "scrollback-h1000", "ceiling", "bare-fanout", "naive"] as const;
export type VariantName = (typeof VARIANTS)[number];

/** The points of the scale case (cases/scale.ts). */
export const SCALE_PARTS = ["idle", "replicas", "history"] as const;
export type ScalePart = (typeof SCALE_PARTS)[number];

export interface ScaleOptions {
  /** Which parts run (default all). */
  parts: ScalePart[];
  /** Idle connection counts on one replica; capped by the server's open-file limit. */
  idle: number[];
  /** Replicas from 1 up to this in the fan-out points. */
  maxReplicas: number;
  /** HISTORY_MAX values for the add and load points. */
  history: number[];
  /** Measured seconds per throughput point (after half as much warm-up). */
  pointSeconds: number;
  /** Active users (a sender and a receiver each) measuring delivery at each idle point. */
  activeUsers: number;
}

export interface BenchOptions {
  quick: boolean;
  cases: CaseName[];
  /** Only these variants (default: scrollback and both baselines). */
  variants: VariantName[];
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
  scale: ScaleOptions;
  /** Where the scale case's SVG charts go (default: beside the JSON result). */
  chartsDir?: string;
}

const HELP = `npm run bench -- [options]
  --quick                 short runs (about 2 minutes on an idle machine)
  --cases add,fanout,load,idle   (default; also: scale, a few minutes; inbox = add with INBOX_STREAM off and on;
                          drafts = draft chunks on replica 1 fanned out to tabs on replica 2)
  --variants scrollback,scrollback-h1000,ceiling,bare-fanout,naive
                          scrollback-h1000 (HISTORY_MAX=1000) runs in add only, bare-fanout in fanout only
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
  --out FILE              where to write the JSON result
  --charts DIR            where the scale case writes its SVG charts (beside the JSON result)
  --scale-parts P,P       only these parts of the scale case: idle,replicas,history
  --scale-idle N,N,...    idle connection counts of the scale case (1000,2000,5000,10000,15000,max)
                          "max": as many as the server's open-file limit leaves room for
  --scale-replicas R      replicas 1..R in the scale case's fan-out points (4)
  --scale-history H,H,... HISTORY_MAX values of the scale case (15,100,250,500,1000)
  --scale-seconds S       measured seconds per scale point (2)`;

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
      charts: { type: "string" },
      "scale-parts": { type: "string" },
      "scale-idle": { type: "string" },
      "scale-replicas": { type: "string" },
      "scale-history": { type: "string" },
      "scale-seconds": { type: "string" },
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
  const list = <T extends string>(
    value: string | undefined,
    allowed: readonly T[],
    name: string,
    fallback: readonly T[] = allowed,
  ): T[] => {
    if (value === undefined) return [...fallback];
    const items = value.split(",").map((item) => item.trim());
    for (const item of items) if (!allowed.includes(item as T)) throw new Error(`--${name}: unknown ${item} (${allowed.join(", ")})`);
    return items as T[];
  };
  const numbers = (value: string | undefined, fallback: number[], name: string) =>
    value === undefined
      ? fallback
      : value.split(",").map((item) => (item.trim() === "max" ? Number.POSITIVE_INFINITY : number(item.trim(), 0, name)));
  const env: Record<string, string> = {};
  for (const entry of values.env ?? []) {
    const at = entry.indexOf("=");
    if (at < 1) throw new Error(`--env: expected KEY=VALUE, got ${entry}`);
    env[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return {
    quick,
    cases: list(values.cases, CASES, "cases", DEFAULT_CASES),
    variants: list(values.variants, VARIANTS, "variants"),
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
    chartsDir: values.charts,
    scale: {
      parts: list(values["scale-parts"], SCALE_PARTS, "scale-parts"),
      idle: numbers(values["scale-idle"], [1_000, 2_000, 5_000, 10_000, 15_000, Number.POSITIVE_INFINITY], "scale-idle"),
      maxReplicas: Math.round(number(values["scale-replicas"], 4, "scale-replicas")),
      history: numbers(values["scale-history"], [15, 100, 250, 500, 1_000], "scale-history").map((value) => {
        if (!Number.isInteger(value) || value > 1_000) throw new Error("--scale-history: HISTORY_MAX is an integer, 1–1000");
        return value;
      }),
      pointSeconds: number(values["scale-seconds"], 2, "scale-seconds"),
      activeUsers: 5,
    },
  };
}
