/**
 * One connection flooding at 1,000 events/s (and reconnecting each time it
 * is thrown out, from its own process) against one server process on a real
 * Redis, with the default rate limit (50/s, burst 100): the flood is refused
 * RATE_LIMITED and disconnected past the threshold, reconnecting buys it no
 * fresh burst, and calm users' p99 ack time stays within twice its quiet
 * value (plus 25 ms of scheduling noise).
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { request } from "../support/clients.js";
import { useServerProcessOnRedis } from "../support/server-process-on-redis.js";
import { metric } from "./probes.js";

const CALM_USERS = 4;
/** Each calm connection stays under the 50/s limit. */
const CALM_INTERVAL_MS = 25;
const WINDOW_MS = 6_000;
const run = promisify(execFile);

const suite = useServerProcessOnRedis(
  { RATE_LIMIT_PER_SECOND: "50", RATE_LIMIT_BURST: "100", LOG_LEVEL: "error" },
  Array.from({ length: CALM_USERS }, (_, i) => `calm_${i}`),
);

/** Ack times of the calm users adding messages for `durationMs`, sorted. */
async function calmAckTimes(durationMs: number): Promise<number[]> {
  const times: number[] = [];
  const until = Date.now() + durationMs;
  await Promise.all(
    suite.sockets.map(async (socket, i) => {
      for (let n = 0; Date.now() < until; n++) {
        const started = performance.now();
        const answer = await request(socket, "message:add", { content: `calm ${i} ${n}` });
        times.push(performance.now() - started);
        expect(answer.ok).toBe(true);
        await new Promise((resolve) => setTimeout(resolve, CALM_INTERVAL_MS));
      }
    }),
  );
  return times.sort((a, b) => a - b);
}

/** Scheduling noise allowed on top of twice the quiet p99. */
const NOISE_MS = 25;
const p99 = (sorted: number[]) => sorted[Math.floor(sorted.length * 0.99)]!;

const FLOODER = fileURLToPath(new URL("./flooder.ts", import.meta.url));

/** Runs flooder.ts in its own process for `durationMs`; resolves with its counts. */
async function flood(
  durationMs: number,
): Promise<{ sent: number; ok: number; rateLimited: number; disconnects: number; connects: number }> {
  const { stdout } = await run(
    process.execPath,
    ["--conditions=@scrollback/source", "--import", import.meta.resolve("tsx"), FLOODER, suite.server.url, "flooder", String(durationMs)],
    {
      timeout: durationMs + 30_000,
    },
  );
  return JSON.parse(stdout.trim().split("\n").at(-1)!);
}

describe("a connection flooding at 1,000 events/s", () => {
  it("is rate limited and disconnected, while calm users' p99 ack time stays within 2x quiet (+25 ms)", async () => {
    // Warm up (JIT, Redis, the connections), then the quiet baseline.
    await calmAckTimes(1_000);
    const quiet = await calmAckTimes(WINDOW_MS);
    const [loud, attack] = await Promise.all([calmAckTimes(WINDOW_MS), flood(WINDOW_MS)]);
    const disconnects = await metric(suite.server.url, "scrollback_rate_limit_disconnects_total");
    console.info(
      `[flood 1,000 events/s] quiet p99=${p99(quiet).toFixed(2)}ms (n=${quiet.length}) under flood p99=${p99(loud).toFixed(2)}ms (n=${loud.length}); ` +
        `flooder sent=${attack.sent} ok=${attack.ok} RATE_LIMITED=${attack.rateLimited} connected ${attack.connects} times, disconnected ${attack.disconnects} (server counted ${disconnects})`,
    );
    expect(attack.rateLimited).toBeGreaterThan(0);
    expect(attack.disconnects).toBeGreaterThan(0);
    expect(disconnects).toBeGreaterThanOrEqual(attack.disconnects);
    // One burst, then about the rate limit: reconnecting buys no fresh burst (FLOOD_PENALTY_MS).
    expect(attack.ok).toBeLessThanOrEqual(100 + 2 * (WINDOW_MS / 1000) * 50);
    // Plus 25 ms: on two shared cores a quiet p99 of ~10 ms doubles from scheduling alone (a CI run
    // saw 20 → 42 ms while another test process ran); serving the flooder's events would cost far more.
    expect(p99(loud)).toBeLessThanOrEqual(2 * p99(quiet) + NOISE_MS);
  }, 60_000);
});
