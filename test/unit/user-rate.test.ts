/**
 * server/src/http/user-rate.ts: the per-user draft-chunk buckets forget idle
 * users, without visiting every bucket on every take once many users have one.
 * Work is counted as the buckets the map's iterators hand out (a spy on the
 * UserRate's own map), never by timing.
 */
import { expect, it } from "vitest";
import { UserRate } from "../../server/src/http/user-rate.js";

/** user-rate.ts's thresholds, restated: sweeps start at 10,000 users; 10 s idle is forgotten. */
const SWEEP_AT = 10_000;
const FORGET_AFTER_MS = 10_000;

type Buckets = Map<string, unknown>;

/** The UserRate's private map of buckets (the test reads its size and counts its iteration). */
function bucketsOf(rate: UserRate): Buckets {
  const buckets = (rate as unknown as { buckets: unknown }).buckets;
  if (!(buckets instanceof Map)) throw new Error("UserRate keeps its buckets in a Map named `buckets`: this test must follow it");
  return buckets as Buckets;
}

/** Counts every entry any iteration of `map` hands out (for…of, entries, keys, values, forEach). */
function countVisits(map: Buckets): { visited: number } {
  const counter = { visited: 0 };
  for (const method of [Symbol.iterator, "entries", "keys", "values"] as const) {
    const original = Map.prototype[method] as (this: Buckets) => Iterator<unknown>;
    Object.defineProperty(map, method, {
      value(this: Buckets) {
        const inner = original.call(this);
        const counted = {
          next() {
            const step = inner.next();
            if (!step.done) counter.visited++;
            return step;
          },
          [Symbol.iterator]() {
            return counted;
          },
        };
        return counted;
      },
    });
  }
  const forEach = Map.prototype.forEach;
  Object.defineProperty(map, "forEach", {
    value(this: Buckets, visit: (value: unknown, key: string, map: Buckets) => void) {
      forEach.call(this, (value, key, self) => {
        counter.visited++;
        visit(value, key, self as Buckets);
      });
    },
  });
  return counter;
}

it("with 10,000 users holding a bucket, a take does not visit them all, and idle users are still forgotten", () => {
  let now = 0;
  const rate = new UserRate(5, () => now);
  const buckets = bucketsOf(rate);
  const visits = countVisits(buckets);
  for (let i = 0; i < SWEEP_AT; i++) expect(rate.take(`idle-${i}`)).toBe(0);
  expect(buckets.size).toBe(SWEEP_AT);

  // Ten backends' users stream 1,000 chunks over 5 s while the 10,000 sit idle:
  // a sweep may look at every bucket once, not on each of the 1,000 takes.
  for (let i = 0; i < 1_000; i++) {
    now = 5 + i * 5;
    rate.take(`active-${i % 10}`);
  }
  expect(visits.visited).toBeLessThanOrEqual(2 * (SWEEP_AT + 10));
  expect(buckets.size).toBe(SWEEP_AT + 10);

  // Past FORGET_AFTER_MS of idleness the next take forgets them; the active ten stay.
  now = FORGET_AFTER_MS + 2_000;
  rate.take("active-0");
  expect([...buckets.keys()].sort()).toEqual(Array.from({ length: 10 }, (_, i) => `active-${i}`));
});

it("users who each come once keep the map bounded, at a cost per take that does not grow with the map", () => {
  let now = 0;
  const rate = new UserRate(5, () => now);
  const buckets = bucketsOf(rate);
  const visits = countVisits(buckets);
  const takes = 6 * SWEEP_AT;
  let largest = 0;
  // One new user a millisecond: 10,000 within any FORGET_AFTER_MS.
  for (let i = 0; i < takes; i++) {
    now = i;
    rate.take(`once-${i}`);
    largest = Math.max(largest, buckets.size);
  }
  expect(largest).toBeLessThanOrEqual(2 * SWEEP_AT);
  expect(visits.visited / takes).toBeLessThan(3);
});

it("new users arriving all at once (no time passes) are swept only as the map doubles", () => {
  const rate = new UserRate(5, () => 0);
  const buckets = bucketsOf(rate);
  const visits = countVisits(buckets);
  const takes = 4 * SWEEP_AT;
  for (let i = 0; i < takes; i++) rate.take(`burst-${i}`);
  // None is idle, so all are kept; the sweeps at 10,000 and 20,000 buckets saw each of them once or twice.
  expect(buckets.size).toBe(takes);
  expect(visits.visited).toBeLessThanOrEqual(takes);
});
