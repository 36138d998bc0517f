/**
 * The bench's inbox and drafts cases keep working: a tiny configuration runs
 * end to end and prints their tables; with the inbox on every add is one
 * XADD (and none with it off), and every draft chunk sent on replica 1
 * reaches the user's tab on replica 2, in seq order.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "scrollback-bench-streams-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("measures adds with the inbox off and on, and draft chunks fanned out across two replicas", async () => {
  const args = ["--cases", "inbox,drafts", "--users", "4", "--inflight", "2", "--warmup", "0.3", "--duration", "0.5", "--rounds", "1"];
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--conditions=@scrollback/source", "--import", "tsx", "bench/run.ts", ...args, "--out", join(dir, "result.json")],
    { cwd: ROOT, timeout: 120_000 },
  );

  expect(stdout).toMatch(/^adds\/s +[\d,]+ +[\d,]+ +[\d.]+×$/m);
  expect(stdout).toMatch(/^ {2}draft:update\/s \(replica 2\) +[\d,]+$/m);
  const { results } = JSON.parse(stdout.trim().split("\n").at(-1)!);

  const { inbox } = results;
  for (const side of ["off", "on"]) {
    expect(inbox[side].perSecond, side).toBeGreaterThan(0);
    expect(inbox[side].lost + Object.keys(inbox[side].errors).length, side).toBe(0);
    expect(inbox[side].dataCommandsPerAdd, side).toBe(1);
  }
  expect(inbox.off.commandStatsPerAdd.xadd).toBeUndefined();
  expect(inbox.on.commandStatsPerAdd.xadd).toBe(1);
  expect(inbox.xaddCallsPerAdd).toBe(1);
  expect(inbox.throughputRatio).toBeCloseTo(inbox.on.perSecond / inbox.off.perSecond);

  const { drafts } = results;
  expect(drafts.perSecond).toBeGreaterThan(0);
  expect(drafts.lost + Object.keys(drafts.errors).length).toBe(0);
  expect(drafts.outOfOrder).toBe(0);
  expect(drafts.storedPerSecond).toBeGreaterThan(0);
  // One tab per user on the other replica: about one update per chunk (the window's edges aside).
  expect(drafts.deliveriesPerSecond / drafts.perSecond).toBeGreaterThan(0.9);
  expect(drafts.deliveriesPerSecond / drafts.perSecond).toBeLessThan(1.1);
  expect(drafts.deliveryP99Ms).toBeGreaterThan(0);
}, 150_000);
