import { describe, expect, it } from "vitest";
import { TurnsPerKey } from "../../server/src/store/turns-per-key.js";

/** A task that resolves when told to, recording when it started. */
function gate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

describe("TurnsPerKey", () => {
  it("runs one key's tasks one after another, in arrival order, and other keys' at once", async () => {
    const turns = new TurnsPerKey(10_000);
    const events: string[] = [];
    const first = gate();
    const a1 = turns.run("a", async () => {
      events.push("a1 start");
      await first.opened;
      events.push("a1 end");
    });
    const a2 = turns.run("a", async () => {
      events.push("a2 start");
    });
    const b1 = turns.run("b", async () => {
      events.push("b1 start");
    });
    await b1;
    expect(events).toEqual(["a1 start", "b1 start"]);
    first.open();
    await Promise.all([a1, a2]);
    expect(events).toEqual(["a1 start", "b1 start", "a1 end", "a2 start"]);
  });

  it("starts the next task once the previous has run for releaseAfterMs, and tells it how long it waited", async () => {
    const turns = new TurnsPerKey(50);
    const stuck = gate();
    const a1 = turns.run("a", () => stuck.opened);
    const waited = await turns.run("a", async (waitedMs) => waitedMs);
    expect(waited).toBeGreaterThanOrEqual(45);
    expect(waited).toBeLessThan(1_000);
    stuck.open();
    await a1;
  });

  it("passes a task's rejection to its caller and still lets the next one run", async () => {
    const turns = new TurnsPerKey(10_000);
    const failing = turns.run("a", async () => {
      throw new Error("refused");
    });
    const next = turns.run("a", async () => "ran");
    await expect(failing).rejects.toThrow("refused");
    expect(await next).toBe("ran");
  });
});
