/**
 * Refused room subscriptions (PROTOCOL.md §5 scrollback_room_subscription_failures_total):
 * each one counted, but logged at most once per REFUSAL_LOG_INTERVAL_MS with
 * how many since the last line, so that a fleet of clients retrying against
 * an ACL without the room channels does not write a line per attempt.
 */
import { Writable } from "node:stream";
import pino from "pino";
import { Counter, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { REFUSAL_LOG_INTERVAL_MS, roomRefusalReporter } from "../../server/src/realtime/room-subscription.js";

function setup() {
  const lines: { level: number; userId: string; refused: number; err: string }[] = [];
  const logger = pino(
    { level: "warn" },
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()));
        done();
      },
    }),
  );
  const counter = new Counter({ name: "refusals_total", help: "refusals", registers: [new Registry()] });
  const clock = { now: 1_000_000 };
  const report = roomRefusalReporter(logger, counter, () => clock.now);
  return { lines, counter, clock, report };
}

const countOf = async (counter: Counter) => (await counter.get()).values[0]?.value;
const settled = () => new Promise((resolve) => setImmediate(resolve));

describe("roomRefusalReporter", () => {
  it("counts every refusal and logs the first at once, naming the user and Redis's error", async () => {
    const { lines, counter, report } = setup();
    report("alice", new Error("NOPERM this user has no permissions to access one of the channels"));
    await settled();
    expect(await countOf(counter)).toBe(1);
    expect(lines).toEqual([expect.objectContaining({ level: 40, userId: "alice", refused: 1, err: expect.stringMatching(/^NOPERM/) })]);
  });

  it("logs at most once per interval, with how many were refused since the last line", async () => {
    const { lines, counter, clock, report } = setup();
    // 1,000 refusals 10 ms apart, then one when the interval since the first line has passed.
    for (let i = 0; i < 1_000; i++) {
      report(`user_${i}`, new Error("NOPERM"));
      clock.now += 10;
    }
    expect(clock.now - 1_000_000).toBe(REFUSAL_LOG_INTERVAL_MS);
    report("late", new Error("NOPERM"));
    await settled();
    expect(await countOf(counter)).toBe(1_001);
    expect(lines.map((line) => [line.userId, line.refused])).toEqual([
      ["user_0", 1],
      ["late", 1_000],
    ]);
  });
});
