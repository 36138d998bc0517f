/**
 * The scale case (`npm run bench -- --cases scale`): how cost grows, drawn
 * as SVG charts. Each point is a short window, so the whole case takes a
 * few minutes:
 *
 * - idle connections on one replica, in steps from 1k up to what the
 *   server process may open (its open-file limit): RSS per connection,
 *   connect rate, and the delivery p99 of a few active users at each step.
 *   The clients are spread over several generator processes (each has the
 *   same limit);
 * - fan-out over 1 → 4 replicas: server CPU per add per replica;
 * - HISTORY_MAX 15 → 1000: what an add and a load of the full window cost.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { benchUserId } from "../fixtures.js";
import { type BenchContext, type ServerSet, startGenerators, startServers } from "../fleet.js";
import type { Worker } from "../ipc.js";
import type { PlannedSocket } from "../load-generator.js";
import type { RunVariant } from "../results.js";
import type { HistoryPoint, IdlePoint, ReplicaPoint, ScaleResult } from "../scale-result.js";
import type { ProcessUsage } from "../server-process.js";
import { lineChart, type Series } from "../svg-chart.js";
import { prefillWindows } from "./prefill.js";
import { measureWindow } from "./throughput.js";

/** Idle sockets per generator process: well under its own open-file limit. */
const SOCKETS_PER_GENERATOR = 8_000;
/** Descriptors the server keeps free beyond its idle connections: Redis, the active users, the listener, slack. */
const FD_MARGIN = 64;
/** Idle users are numbered from here, apart from the active users. */
const IDLE_USER_OFFSET = 1_000_000;

/** The soft open-file limit of process `pid` and how many it holds now, from /proc (Linux). */
function openFiles(pid: number): { limit: number; open: number } | undefined {
  try {
    const limits = readFileSync(`/proc/${pid}/limits`, "utf8");
    const soft = /^Max open files\s+(\S+)/m.exec(limits)?.[1];
    const limit = soft === undefined || soft === "unlimited" ? Number.POSITIVE_INFINITY : Number(soft);
    return { limit, open: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return undefined;
  }
}

const usageOf = (servers: ServerSet) => servers.workers[0]!.call<ProcessUsage>("usage", { gc: true });

/** Plans `count` idle sockets (listening only) numbered from `first`, spread over `generators` plans. */
function idlePlans(url: string, first: number, count: number, generators: number): PlannedSocket[][] {
  const plans: PlannedSocket[][] = Array.from({ length: generators }, () => []);
  for (let i = 0; i < count; i++) {
    plans[(first + i) % generators]!.push({ url, userId: benchUserId(IDLE_USER_OFFSET + first + i), sender: false });
  }
  return plans;
}

/** The few active users: a sender and a receiver each, both on `url`. */
function activePlan(url: string, users: number): PlannedSocket[] {
  return Array.from({ length: users }, (_, i) => [
    { url, userId: benchUserId(i), sender: true },
    { url, userId: benchUserId(i), sender: false },
  ]).flat();
}

async function idleRamp(
  context: BenchContext,
  variant: RunVariant,
): Promise<{ points: IdlePoint[]; limit: { connections: number; reason: string } }> {
  const { options, admin } = context;
  const scale = options.scale;
  await admin.flushall();
  const servers = await startServers(context, variant, 1, "scale-idle", { nodeFlags: ["--expose-gc"] });
  let idleGenerators: Worker[] = [];
  try {
    const files = openFiles(servers.workers[0]!.process.pid!);
    const room = files ? files.limit - files.open - FD_MARGIN - 2 * scale.activeUsers : Number.POSITIVE_INFINITY;
    const finite = scale.idle.filter(Number.isFinite);
    const wanted = [...new Set(scale.idle.map((count) => Math.floor(Math.min(count, room))))].filter(Number.isFinite).sort((a, b) => a - b);
    const steps = wanted.length > 0 ? wanted : [Math.max(1, ...finite)];
    const cut = scale.idle.some((count) => count > room);
    const limit = {
      connections: steps.at(-1)!,
      reason: files
        ? cut
          ? `cut at ${steps.at(-1)} connections: the server process's open-file limit (${files.limit}) less the ${files.open} descriptors it held at start and a margin of ${FD_MARGIN + 2 * scale.activeUsers}`
          : `the largest point asked for (open-file limit ${files.limit}, not reached)`
        : "the largest point asked for (open-file limit unknown)",
    };
    idleGenerators = await startGenerators(Math.max(1, Math.ceil(steps.at(-1)! / SOCKETS_PER_GENERATOR)));
    const url = servers.urls[0]!;

    // A warm-up round first, so neither side measures its first-connection costs (JIT, lazy loading).
    const warmup = idlePlans(url, steps.at(-1)!, Math.min(1_000, steps[0]!), idleGenerators.length);
    await Promise.all(idleGenerators.map((generator, index) => generator.call("open", { plan: warmup[index], concurrency: 50 })));
    await Promise.all(idleGenerators.map((generator) => generator.call("close")));
    const before = await usageOf(servers);

    const points: IdlePoint[] = [];
    let connected = 0;
    for (const target of steps) {
      const plans = idlePlans(url, connected, target - connected, idleGenerators.length);
      const started = performance.now();
      await Promise.all(idleGenerators.map((generator, index) => generator.call("open", { plan: plans[index], concurrency: 50 })));
      const seconds = (performance.now() - started) / 1000;
      const usage = await usageOf(servers);
      const point: IdlePoint = {
        variant,
        connections: target,
        connectPerSecond: (target - connected) / seconds,
        rssBytesPerConnection: (usage.rssBytes - before.rssBytes) / target,
        heapBytesPerConnection: (usage.heapUsedBytes - before.heapUsedBytes) / target,
      };
      connected = target;
      const active = await measureWindow(context, {
        event: "message:add",
        variant,
        servers,
        plans: [activePlan(url, scale.activeUsers)],
        flush: false,
        inflight: 1,
        warmupSeconds: scale.pointSeconds / 4,
        durationSeconds: scale.pointSeconds,
      });
      point.activeAcksPerSecond = active.perSecond;
      point.activeAckP99Ms = active.p99Ms;
      point.deliveryP99Ms = active.deliveryP99Ms;
      points.push(point);
      context.log?.(
        `scale idle ${variant} ${target}: ${Math.round(point.connectPerSecond)} conn/s, ${(point.rssBytesPerConnection / 1024).toFixed(1)} KiB/conn, delivery p99 ${point.deliveryP99Ms?.toFixed(2) ?? "—"} ms`,
      );
    }
    return { points, limit };
  } finally {
    await Promise.all(idleGenerators.map((generator) => generator.stop()));
    await servers.stop();
  }
}

/** Fan-out over `replicas` replicas: user i sends on replica i mod r and listens on the next one. */
async function replicaPoint(context: BenchContext, variant: RunVariant, replicas: number): Promise<ReplicaPoint> {
  const { options } = context;
  const servers = await startServers(context, variant, replicas, `scale-r${replicas}`);
  try {
    const plans: PlannedSocket[][] = Array.from({ length: options.generators }, () => []);
    for (let i = 0; i < options.users; i++) {
      const userId = benchUserId(i);
      plans[i % options.generators]!.push(
        { url: servers.urls[i % replicas]!, userId, sender: true },
        { url: servers.urls[(i + 1) % replicas]!, userId, sender: false },
      );
    }
    const result = await measureWindow(context, {
      event: "message:add",
      variant,
      servers,
      plans,
      warmupSeconds: options.scale.pointSeconds / 2,
      durationSeconds: options.scale.pointSeconds,
    });
    const cpu = result.serverCpuPer1k * 1000;
    const point: ReplicaPoint = {
      variant,
      replicas,
      addsPerSecond: result.perSecond,
      serverCpuMicrosPerAdd: cpu,
      serverCpuMicrosPerAddPerReplica: cpu / replicas,
      redisCpuMicrosPerAdd: result.redisCpuPer1k * 1000,
      deliveriesPerSecond: result.deliveriesPerSecond,
      deliveryP99Ms: result.deliveryP99Ms,
    };
    context.log?.(
      `scale replicas ${variant} ×${replicas}: ${Math.round(point.addsPerSecond)} adds/s, ${point.serverCpuMicrosPerAddPerReplica.toFixed(1)} µs/add/replica`,
    );
    return point;
  } finally {
    await servers.stop();
  }
}

/** An add and a load of the full window with HISTORY_MAX = `historyMax`, windows full. */
async function historyPoints(context: BenchContext, variant: RunVariant, historyMax: number): Promise<HistoryPoint[]> {
  const { options } = context;
  const servers = await startServers(context, variant, 1, `scale-h${historyMax}`, { historyMax });
  try {
    const points: HistoryPoint[] = [];
    for (const event of ["message:add", "history:load"] as const) {
      const result = await measureWindow(context, {
        event,
        variant,
        servers,
        plans: [activePlan(servers.urls[0]!, options.users).filter((socket) => socket.sender)],
        prepare: () => prefillWindows(context, historyMax),
        warmupSeconds: options.scale.pointSeconds / 2,
        durationSeconds: options.scale.pointSeconds,
      });
      points.push({
        variant,
        event,
        historyMax,
        perSecond: result.perSecond,
        serverCpuMicros: result.serverCpuPer1k * 1000,
        redisCpuMicros: result.redisCpuPer1k * 1000,
        p99Ms: result.p99Ms,
      });
      context.log?.(
        `scale history ${variant} ${event} HISTORY_MAX=${historyMax}: ${Math.round(result.perSecond)}/s, server ${(result.serverCpuPer1k * 1000).toFixed(1)} µs, redis ${(result.redisCpuPer1k * 1000).toFixed(1)} µs`,
      );
    }
    return points;
  } finally {
    await servers.stop();
  }
}

const among = (variants: RunVariant[], wanted: RunVariant[]) => wanted.filter((variant) => variants.includes(variant));

const NAMES: Partial<Record<RunVariant, string>> = { ceiling: "bare server (ceiling)", "bare-fanout": "bare fan-out" };
const nameOf = (variant: RunVariant) => NAMES[variant] ?? variant;

/** Writes the charts into `dir`; returns their paths. */
function writeCharts(result: Omit<ScaleResult, "charts">, dir: string, subtitle: string): string[] {
  mkdirSync(dir, { recursive: true });
  const bySeries = <P extends { variant: RunVariant }>(
    points: P[],
    x: (p: P) => number,
    y: (p: P) => number | null | undefined,
    suffix = "",
  ) => {
    const variants = [...new Set(points.map((point) => point.variant))];
    return variants.map(
      (variant): Series => ({
        name: `${nameOf(variant)}${suffix}`,
        points: points.filter((point) => point.variant === variant).map((point) => [x(point), y(point) ?? null]),
      }),
    );
  };
  const marker = { x: result.idleLimit.connections, label: `open-file limit: ${result.idleLimit.connections.toLocaleString("en-US")}` };
  const cutByLimit = result.idleLimit.reason.startsWith("cut");
  const adds = result.history.filter((point) => point.event === "message:add");
  const loads = result.history.filter((point) => point.event === "history:load");
  const charts: Record<string, string> = {
    "scale-idle-memory.svg": lineChart({
      title: "Server RSS per idle connection, one replica",
      subtitle,
      xLabel: "idle connections",
      yLabel: "KiB per connection",
      series: bySeries(
        result.idle,
        (p) => p.connections,
        (p) => p.rssBytesPerConnection / 1024,
      ),
      marker: cutByLimit ? marker : undefined,
    }),
    "scale-idle-connect.svg": lineChart({
      title: "Connect rate while the idle connections pile up",
      subtitle,
      xLabel: "idle connections",
      yLabel: "connections/s (each step)",
      series: bySeries(
        result.idle,
        (p) => p.connections,
        (p) => p.connectPerSecond,
      ),
      marker: cutByLimit ? marker : undefined,
    }),
    "scale-idle-delivery.svg": lineChart({
      title: "Delivery p99 of a few active users among the idle connections",
      subtitle,
      xLabel: "idle connections",
      yLabel: "ms (send → message:new)",
      series: bySeries(
        result.idle.filter((point) => point.deliveryP99Ms !== undefined && point.deliveryP99Ms !== null),
        (p) => p.connections,
        (p) => p.deliveryP99Ms,
      ),
      marker: cutByLimit ? marker : undefined,
    }),
    "scale-replicas-cpu.svg": lineChart({
      title: "Fan-out: server CPU per add, per replica",
      subtitle,
      xLabel: "replicas",
      integerX: true,
      yLabel: "µs CPU per add per replica",
      series: bySeries(
        result.replicas,
        (p) => p.replicas,
        (p) => p.serverCpuMicrosPerAddPerReplica,
      ),
    }),
    "scale-replicas-rate.svg": lineChart({
      title: "Fan-out: adds/s over 1 → N replicas",
      subtitle,
      xLabel: "replicas",
      integerX: true,
      yLabel: "adds/s",
      series: bySeries(
        result.replicas,
        (p) => p.replicas,
        (p) => p.addsPerSecond,
      ),
    }),
    "scale-history-add.svg": lineChart({
      title: "Cost of an add by window size (windows full)",
      subtitle,
      xLabel: "HISTORY_MAX",
      yLabel: "µs CPU per add",
      series: [
        ...bySeries(
          adds,
          (p) => p.historyMax,
          (p) => p.serverCpuMicros,
          ": server",
        ),
        ...bySeries(
          adds,
          (p) => p.historyMax,
          (p) => p.redisCpuMicros,
          ": Redis",
        ),
      ],
    }),
    "scale-history-load.svg": lineChart({
      title: "Cost of loading the full window by window size",
      subtitle,
      xLabel: "HISTORY_MAX (messages per load)",
      yLabel: "µs CPU per history:load",
      series: [
        ...bySeries(
          loads,
          (p) => p.historyMax,
          (p) => p.serverCpuMicros,
          ": server",
        ),
        ...bySeries(
          loads,
          (p) => p.historyMax,
          (p) => p.redisCpuMicros,
          ": Redis",
        ),
      ],
    }),
  };
  return Object.entries(charts).map(([file, svg]) => {
    const path = join(dir, file);
    writeFileSync(path, svg);
    return path;
  });
}

/** Runs every part of the scale case for the variants asked for, and writes the charts into `chartsDir`. */
export async function runScale(context: BenchContext, variants: RunVariant[], chartsDir: string, subtitle: string): Promise<ScaleResult> {
  const idle: IdlePoint[] = [];
  let idleLimit = { connections: 0, reason: "not run" };
  const parts = context.options.scale.parts;
  for (const variant of parts.includes("idle") ? among(variants, ["scrollback", "ceiling"]) : []) {
    const ramp = await idleRamp(context, variant);
    idle.push(...ramp.points);
    idleLimit = ramp.limit;
  }
  const replicas: ReplicaPoint[] = [];
  for (let count = 1; parts.includes("replicas") && count <= context.options.scale.maxReplicas; count++) {
    for (const variant of among(variants, ["scrollback", "bare-fanout", "naive"]))
      replicas.push(await replicaPoint(context, variant, count));
  }
  const history: HistoryPoint[] = [];
  for (const historyMax of parts.includes("history") ? context.options.scale.history : []) {
    for (const variant of among(variants, ["scrollback", "naive"])) history.push(...(await historyPoints(context, variant, historyMax)));
  }
  const result = { idle, idleLimit, replicas, history };
  return { ...result, charts: writeCharts(result, chartsDir, subtitle) };
}

/** The scale case's figures as text, one line per point. */
export function formatScale(result: ScaleResult): string {
  const fixed = (value: number | null | undefined, digits: number) => (value === null || value === undefined ? "—" : value.toFixed(digits));
  return [
    `scale idle (one replica; ${result.idleLimit.reason}):`,
    ...result.idle.map(
      (p) =>
        `  ${nameOf(p.variant).padEnd(22)} ${String(p.connections).padStart(6)} conns  ${fixed(p.rssBytesPerConnection / 1024, 1).padStart(6)} KiB/conn  ${fixed(p.connectPerSecond, 0).padStart(6)} conn/s  delivery p99 ${fixed(p.deliveryP99Ms, 2)} ms`,
    ),
    "scale replicas (fan-out, user i sends on replica i mod r, listens on the next):",
    ...result.replicas.map(
      (p) =>
        `  ${nameOf(p.variant).padEnd(22)} ×${p.replicas}  ${fixed(p.addsPerSecond, 0).padStart(6)} adds/s  ${fixed(p.serverCpuMicrosPerAddPerReplica, 1).padStart(6)} µs/add/replica  ${fixed(p.serverCpuMicrosPerAdd, 1).padStart(6)} µs/add all replicas  redis ${fixed(p.redisCpuMicrosPerAdd, 1)} µs/add`,
    ),
    "scale history (windows full):",
    ...result.history.map(
      (p) =>
        `  ${nameOf(p.variant).padEnd(22)} ${p.event.padEnd(12)} HISTORY_MAX=${String(p.historyMax).padEnd(5)} ${fixed(p.perSecond, 0).padStart(6)}/s  server ${fixed(p.serverCpuMicros, 1).padStart(6)} µs  redis ${fixed(p.redisCpuMicros, 1).padStart(6)} µs`,
    ),
    `charts: ${result.charts.join(", ")}`,
  ].join("\n");
}
