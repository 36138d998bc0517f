/**
 * `npm run bench` keeps working: a tiny configuration of every case (a few
 * connections, half-second windows) runs end to end, prints its table and a
 * JSON line, and measures exactly one data-connection command per add.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "scrollback-bench-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("runs every case against both baselines and reports one round trip per add", async () => {
  const out = join(dir, "result.json");
  const args = ["--users", "4", "--inflight", "2", "--warmup", "0.3", "--duration", "0.5", "--rounds", "1", "--idle", "40", "--out", out];
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--conditions=@scrollback/source", "--import", "tsx", "bench/run.ts", ...args],
    {
      cwd: ROOT,
      timeout: 120_000,
    },
  );

  expect(stdout).toMatch(/^add +adds\/s +[\d,]+ +[\d,]+ +[\d,]+/m);
  const line = stdout.trim().split("\n").at(-1)!;
  const report = JSON.parse(line);
  expect(JSON.parse(readFileSync(out, "utf8"))).toEqual(report);
  for (const caseName of ["add", "fanout", "load"]) {
    for (const variant of ["scrollback", "ceiling", "naive"]) {
      const result = report.results[caseName][variant];
      expect(result.perSecond, `${caseName} ${variant}`).toBeGreaterThan(0);
      expect(result.lost + Object.keys(result.errors).length).toBe(0);
    }
  }
  expect(report.results.add.scrollback.dataCommandsPerAdd).toBe(1);
  expect(report.results.fanout.scrollback.commandsPerAdd.data).toEqual({ evalsha: 1 });
  expect(report.results.fanout.scrollback.deliveriesPerSecond).toBeGreaterThan(0);
  expect(report.results.idle.scrollback.connections).toBe(40);
  expect(report.targets.find((target: { figure: string }) => target.figure === "data conn cmds/add").met).toBe(true);
}, 150_000);
