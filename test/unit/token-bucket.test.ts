import { describe, expect, it } from "vitest";
import { TokenBucket } from "../../server/src/realtime/rate-limiter.js";

describe("TokenBucket", () => {
  it("grants a burst, then refills at the configured rate", () => {
    let now = 0;
    const bucket = new TokenBucket(10, 3, () => now);
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([0, 0, 0]);
    expect(bucket.take()).toBe(100);
    now += 100;
    expect(bucket.take()).toBe(0);
    expect(bucket.take()).toBe(100);
  });

  it("never saves more than the burst", () => {
    let now = 0;
    const bucket = new TokenBucket(100, 2, () => now);
    now += 60_000;
    expect([bucket.take(), bucket.take()]).toEqual([0, 0]);
    expect(bucket.take()).toBeGreaterThan(0);
  });

  it("is off at zero per second", () => {
    const bucket = new TokenBucket(0, 1);
    for (let i = 0; i < 1000; i++) expect(bucket.take()).toBe(0);
  });
});
