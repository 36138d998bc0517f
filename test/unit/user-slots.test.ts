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

  it("shares one bucket between a user's slots and keeps it past the last until it has refilled", () => {
    let clock = 0;
    const slots = new UserSlots({ maxPerUser: 4, rateLimit: { perSecond: 1, burst: 3 }, now: () => clock });
    const [one, two] = [slots.acquire("a")!, slots.acquire("a")!];
    expect(one.bucket).toBe(two.bucket);
    expect([one.bucket.take(), two.bucket.take(), one.bucket.take(), two.bucket.take()]).toEqual([0, 0, 0, 1000]);
    one.release();
    two.release();
    expect(slots.connectionsOf("a")).toBe(0);
    // Reconnecting at once gets the spent bucket back, not a new burst.
    const back = slots.acquire("a")!;
    expect(back.bucket).toBe(one.bucket);
    expect(back.bucket.take()).toBe(1000);
    back.release();
    // 3 s later (burst / perSecond) it would be full again: a fresh one is the same thing.
    clock = 2_999;
    expect(slots.bucketsHeld()).toBe(1);
    clock = 3_000;
    expect(slots.bucketsHeld()).toBe(0);
    const fresh = slots.acquire("a")!;
    expect(fresh.bucket).not.toBe(one.bucket);
    expect([fresh.bucket.take(), fresh.bucket.take(), fresh.bucket.take(), fresh.bucket.take()]).toEqual([0, 0, 0, 1000]);
  });

  it("holds buckets only for users active within the refill time, however many come and go", () => {
    let clock = 0;
    const slots = new UserSlots({ maxPerUser: 4, rateLimit: { perSecond: 10, burst: 20 }, now: () => clock });
    for (let i = 0; i < 10_000; i++) {
      clock = i; // one user a millisecond, each for one connection
      const slot = slots.acquire(`user-${i}`)!;
      slot.bucket.take();
      slot.release();
    }
    // Refill time 2 s: only the last 2,000 users' buckets are still held.
    expect(slots.bucketsHeld()).toBe(2_000);
    clock += 2_000;
    expect(slots.bucketsHeld()).toBe(0);
  });

  it("keeps nothing when the limit is off", () => {
    const slots = new UserSlots({ maxPerUser: 4, rateLimit: { perSecond: 0, burst: 3 }, now });
    slots.acquire("a")!.release();
    expect(slots.bucketsHeld()).toBe(0);
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

  it("gives a penalised user an empty bucket even when a fuller one is kept", () => {
    let penalised = false;
    const slots = new UserSlots({ maxPerUser: 4, rateLimit: { perSecond: 1, burst: 3 }, now, initialTokens: () => (penalised ? 0 : 3) });
    slots.acquire("a")!.release();
    penalised = true;
    expect(slots.acquire("a")!.bucket.take()).toBe(1000);
  });
});
