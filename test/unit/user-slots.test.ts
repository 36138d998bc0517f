import { describe, expect, it } from "vitest";
import { UserSlots } from "../../server/src/realtime/user-slots.js";

describe("UserSlots", () => {
  const now = () => 0;

  it("gives at most maxPerUser slots per user, each user counted apart, and a released slot back once", () => {
    const slots = new UserSlots({ maxPerUser: 2, rateLimit: { perSecond: 1, burst: 5 }, now });
    const first = slots.acquire("a")!;
    expect(slots.acquire("a")).toBeDefined();
    expect(slots.acquire("a")).toBeUndefined();
    expect(slots.acquire("b")).toBeDefined();
    first.release();
    first.release(); // a second release gives nothing more back
    expect(slots.connectionsOf("a")).toBe(1);
    expect(slots.acquire("a")).toBeDefined();
    expect(slots.acquire("a")).toBeUndefined();
  });

  it("shares one bucket between a user's slots and drops it with the last", () => {
    const slots = new UserSlots({ maxPerUser: 4, rateLimit: { perSecond: 1, burst: 3 }, now });
    const [one, two] = [slots.acquire("a")!, slots.acquire("a")!];
    expect(one.bucket).toBe(two.bucket);
    expect([one.bucket.take(), two.bucket.take(), one.bucket.take(), two.bucket.take()]).toEqual([0, 0, 0, 1000]);
    one.release();
    two.release();
    expect(slots.connectionsOf("a")).toBe(0);
    const fresh = slots.acquire("a")!;
    expect(fresh.bucket).not.toBe(one.bucket);
    expect(fresh.bucket.take()).toBe(0);
  });

  it("starts a new bucket with initialTokens (an empty one for a penalised user)", () => {
    const slots = new UserSlots({
      maxPerUser: 4,
      rateLimit: { perSecond: 1, burst: 3 },
      now,
      initialTokens: (userId) => (userId === "flooder" ? 0 : 3),
    });
    expect(slots.acquire("flooder")!.bucket.take()).toBe(1000);
    expect(slots.acquire("calm")!.bucket.take()).toBe(0);
  });
});
