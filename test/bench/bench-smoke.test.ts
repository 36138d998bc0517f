/**
 * `npm run bench` and `npm run soak` keep working: a tiny configuration of
 * every case (a few connections, sub-second windows) runs end to end,
 * prints its table, the targets (met or not, with the ratio) and a
 * JSON line, and measures exactly one data-connection command per add; the
 * scale case writes its charts; the soak prints its verdicts. Nothing here
 * asserts speed: the machine is shared.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "scrollback-bench-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `script` with node; `openFiles` lowers the soft open-file limit of it and its children first. */
async function runScript(script: string, args: string[], openFiles?: number): Promise<{ stdout: string; exitCode: number }> {
  const node = [process.execPath, "--conditions=@scrollback/source", "--import", "tsx", script, ...args];
  const [command, commandArgs] =
    openFiles === undefined ? [node[0]!, node.slice(1)] : ["sh", ["-c", `ulimit -n ${openFiles} && exec "$@"`, "sh", ...node]];
  try {
    const { stdout } = await promisify(execFile)(command, commandArgs, { cwd: ROOT, timeout: 170_000, maxBuffer: 16 * 2 ** 20 });
    return { stdout, exitCode: 0 };
  } catch (error) {
    const failed = error as { stdout?: string; code?: number | string; stderr?: string };
    if (typeof failed.code !== "number") throw error;
    return { stdout: failed.stdout ?? "", exitCode: failed.code };
  }
}

const TINY = ["--users", "4", "--inflight", "2", "--warmup", "0.3", "--duration", "0.5", "--rounds", "1"];

/** Every target line the default run prints, whatever it measured. */
const TARGET_LINES = [
  /^target add adds\/s ≥0\.5×ceiling: -?[\d.]+× (met|not met)$/m,
  /^target add adds\/s HISTORY_MAX=1000 ≥0\.8×HISTORY_MAX=15: -?[\d.]+× (met|not met)$/m,
  /^target add ack p99 ms ≤2×ceiling: -?[\d.]+× (met|not met)$/m,
  /^target add data conn cmds\/add =1: 1\.000 met$/m,
  /^target add data conn cmds\/add HISTORY_MAX=1000 =1: 1\.000 met$/m,
  /^target fanout adds\/s ≥0\.95×bare fan-out: -?[\d.]+× (met|not met)$/m,
  /^target fanout adds\/s stretch >1×bare fan-out: -?[\d.]+× (met|not met)$/m,
  /^target fanout adds\/s ≥1\.3×naive: -?[\d.]+× (met|not met)$/m,
  /^target fanout data conn cmds\/add =1: 1\.000 met$/m,
  /^target load loads\/s ≥0\.5×ceiling: -?[\d.]+× (met|not met)$/m,
  /^target idle server RSS KiB\/conn ≤1\.1×ceiling: -?[\d.]+× (met|not met)$/m,
];

it("runs every case against the baselines, prints each target met or not, and one round trip per add", async () => {
  const out = join(dir, "result.json");
  const { stdout, exitCode } = await runScript("bench/run.ts", [...TINY, "--idle", "40", "--out", out]);
  expect(exitCode).toBe(0);

  expect(stdout).toMatch(/^add +adds\/s +[\d,]+ +[\d,]+ +[\d,]+/m);
  for (const line of TARGET_LINES) expect(stdout).toMatch(line);
  const line = stdout.trim().split("\n").at(-1)!;
  const report = JSON.parse(line);
  expect(JSON.parse(readFileSync(out, "utf8"))).toEqual(report);
  const ran: [string, string[]][] = [
    ["add", ["scrollback", "scrollback-h1000", "ceiling", "naive"]],
    ["fanout", ["scrollback", "ceiling", "bare-fanout", "naive"]],
    ["load", ["scrollback", "ceiling", "naive"]],
  ];
  for (const [caseName, variants] of ran) {
    expect(Object.keys(report.results[caseName]).sort()).toEqual([...variants].sort());
    for (const variant of variants) {
      const result = report.results[caseName][variant];
      expect(result.perSecond, `${caseName} ${variant}`).toBeGreaterThan(0);
      expect(result.lost + Object.keys(result.errors).length).toBe(0);
    }
  }
  expect(report.results.add.scrollback.dataCommandsPerAdd).toBe(1);
  expect(report.results.add["scrollback-h1000"].dataCommandsPerAdd).toBe(1);
  expect(report.results.fanout.scrollback.commandsPerAdd.data).toEqual({ evalsha: 1 });
  expect(report.results.fanout.scrollback.deliveriesPerSecond).toBeGreaterThan(0);
  // The bare fan-out broadcasts through Redis like scrollback: its receivers on the other replica get the adds.
  expect(report.results.fanout["bare-fanout"].deliveriesPerSecond).toBeGreaterThan(0);
  expect(report.results.idle.scrollback.connections).toBe(40);
  expect(report.targets).toHaveLength(TARGET_LINES.length);
  for (const target of report.targets) {
    expect(target.status, `${target.case} ${target.figure} ${target.target}`).toBe(target.met ? "met" : "not met");
    expect(typeof target.value).toBe("number");
  }
  expect(report.targets.find((target: { figure: string }) => target.figure === "data conn cmds/add").met).toBe(true);
}, 180_000);

it("runs the scale case in a tiny configuration and writes its charts", async () => {
  const out = join(dir, "scale.json");
  const charts = join(dir, "charts");
  const { stdout, exitCode } = await runScript("bench/run.ts", [
    ...TINY,
    "--cases",
    "scale",
    "--scale-idle",
    "30,60",
    "--scale-replicas",
    "2",
    "--scale-history",
    "15,40",
    "--scale-seconds",
    "0.3",
    "--charts",
    charts,
    "--out",
    out,
  ]);
  expect(exitCode).toBe(0);
  const report = JSON.parse(stdout.trim().split("\n").at(-1)!);
  const scale = report.results.scale;
  expect(scale.idle.map((point: { variant: string; connections: number }) => `${point.variant} ${point.connections}`)).toEqual([
    "scrollback 30",
    "scrollback 60",
    "ceiling 30",
    "ceiling 60",
  ]);
  expect(scale.idle[1].deliveryP99Ms).toBeGreaterThan(0);
  expect(scale.idleLimit.reason).toMatch(/largest point asked for/);
  expect(scale.replicas.map((point: { variant: string; replicas: number }) => `${point.variant} ${point.replicas}`)).toEqual([
    "scrollback 1",
    "bare-fanout 1",
    "naive 1",
    "scrollback 2",
    "bare-fanout 2",
    "naive 2",
  ]);
  expect(scale.history).toHaveLength(2 * 2 * 2);
  for (const point of [...scale.replicas, ...scale.history])
    expect(point.serverCpuMicros ?? point.serverCpuMicrosPerAdd).toBeGreaterThan(0);
  expect(readdirSync(charts).sort()).toEqual([
    "scale-history-add.svg",
    "scale-history-load.svg",
    "scale-idle-connect.svg",
    "scale-idle-delivery.svg",
    "scale-idle-memory.svg",
    "scale-replicas-cpu.svg",
    "scale-replicas-rate.svg",
  ]);
  for (const file of readdirSync(charts))
    expect(readFileSync(join(charts, file), "utf8")).toMatch(/^<svg [\s\S]*<title>[^<]+<\/title>[\s\S]*<path [\s\S]*<\/svg>\n$/);
  expect(stdout).toMatch(/^scale idle \(one replica; /m);
  expect(stdout).toMatch(/^scale replicas /m);
}, 180_000);

it("stops the idle ramp at the server's open-file limit and says so", async () => {
  const charts = join(dir, "charts-limit");
  // 400 descriptors per process: the ramp's "max" is what the server has left of them.
  const { stdout, exitCode } = await runScript(
    "bench/run.ts",
    [
      ...TINY,
      "--cases",
      "scale",
      "--scale-parts",
      "idle",
      "--variants",
      "scrollback",
      "--scale-idle",
      "50,max",
      "--scale-seconds",
      "0.3",
      "--charts",
      charts,
      "--out",
      join(dir, "limit.json"),
    ],
    400,
  );
  expect(exitCode).toBe(0);
  const scale = JSON.parse(stdout.trim().split("\n").at(-1)!).results.scale;
  const last = scale.idle.at(-1).connections;
  expect(scale.idle.map((point: { connections: number }) => point.connections)).toEqual([50, last]);
  expect(last).toBeGreaterThan(200);
  expect(last).toBeLessThan(400);
  expect(scale.idleLimit.connections).toBe(last);
  expect(scale.idleLimit.reason).toMatch(new RegExp(`^cut at ${last} connections: the server process's open-file limit \\(400\\)`));
  expect(stdout).toMatch(/^scale idle \(one replica; cut at \d+ connections/m);
  expect(readFileSync(join(charts, "scale-idle-memory.svg"), "utf8")).toContain(`open-file limit: ${last}`);
}, 120_000);

it("soaks for a few seconds and says whether memory stayed flat, with figures", async () => {
  const out = join(dir, "soak.json");
  // Flat or not on so short a run is noise: only the report is checked, not the verdict.
  const { stdout, exitCode } = await runScript("scripts/soak.ts", [
    "--minutes",
    "0.15",
    "--sample-seconds",
    "1",
    "--rate",
    "100",
    "--users",
    "4",
    "--out",
    out,
  ]);
  expect([0, 1]).toContain(exitCode);
  for (const figure of ["heapBytes", "rssBytes", "redisUsedMemory"]) {
    expect(stdout).toMatch(new RegExp(`^(flat|GREW): ${figure} mean [\\d.]+ MiB, fitted growth over the second half`, "m"));
  }
  expect(stdout).toMatch(/^soak: 0\.15 min at 100 adds\/s held: \d+ adds acked, 0 errors/m);
  const result = JSON.parse(readFileSync(out, "utf8"));
  expect(result.samples.length).toBeGreaterThanOrEqual(5);
  expect(result.churned.opened).toBeGreaterThan(0);
}, 120_000);
