/**
 * The SDK's timing: jittered exponential backoff, retry delays that respect
 * the server's retryAfterMs, interruptible sleeps and combined abort signals.
 */
import { describe, expect, it } from "vitest";
import { anySignal, backoffDelay, retryDelay, sleep } from "../../client-sdk/src/timing.js";

const SAMPLES = 2_000;

function sample(draw: () => number): { min: number; max: number; distinct: number } {
  const values = Array.from({ length: SAMPLES }, draw);
  return { min: Math.min(...values), max: Math.max(...values), distinct: new Set(values).size };
}

/** Which of `promise` and a `ms` timer settles first. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

describe("backoffDelay", () => {
  const options = { initialMs: 250, maxMs: 10_000 };

  it("doubles from initialMs and stops at maxMs, each delay between half and all of its step", () => {
    const steps = [250, 500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000];
    steps.forEach((step, failures) => {
      const { min, max } = sample(() => backoffDelay(failures, options));
      expect(min, `failures ${failures}`).toBeGreaterThanOrEqual(step / 2);
      expect(max, `failures ${failures}`).toBeLessThanOrEqual(step);
    });
  });

  it("jitters over the whole upper half, so clients that lost the same replica spread out", () => {
    const { min, max, distinct } = sample(() => backoffDelay(3, options)); // step 2000
    expect(distinct).toBeGreaterThan(SAMPLES * 0.9);
    expect(min).toBeLessThan(2_000 * 0.55);
    expect(max).toBeGreaterThan(2_000 * 0.95);
  });

  it("stays finite and capped after any number of failures", () => {
    for (const failures of [31, 64, 1_024, 1e9, Number.MAX_SAFE_INTEGER]) {
      const delay = backoffDelay(failures, options);
      expect(Number.isFinite(delay)).toBe(true);
      expect(delay).toBeGreaterThanOrEqual(5_000);
      expect(delay).toBeLessThanOrEqual(10_000);
    }
    // Even with no cap at all: the exponent stops growing (at 2^30 steps).
    const uncapped = { initialMs: 1, maxMs: Number.POSITIVE_INFINITY };
    expect(Number.isFinite(backoffDelay(1e6, uncapped))).toBe(true);
    expect(backoffDelay(1e6, uncapped)).toBeLessThanOrEqual(2 ** 30);
  });
});

describe("retryDelay", () => {
  it("is the plain backoff when the server named no retryAfterMs", () => {
    const { min, max } = sample(() => retryDelay(undefined, 2, { initialMs: 100, maxMs: 10_000 }));
    expect(min).toBeGreaterThanOrEqual(200);
    expect(max).toBeLessThanOrEqual(400);
  });

  it("never retries before the server's retryAfterMs", () => {
    const { min, max } = sample(() => retryDelay(1_000, 0, { initialMs: 10, maxMs: 10_000 }));
    expect(min).toBe(1_000);
    expect(max).toBe(1_000);
  });

  it("waits at most twice retryAfterMs, however long the backoff has grown", () => {
    const { min, max } = sample(() => retryDelay(300, 10, { initialMs: 250, maxMs: 60_000 }));
    expect(min).toBe(600);
    expect(max).toBe(600);
  });

  it("follows the backoff between retryAfterMs and twice it", () => {
    // Backoff step 1600: delays in [800, 1600], within [retryAfterMs, 2 × retryAfterMs] = [500, 1000] once clamped.
    const { min, max, distinct } = sample(() => retryDelay(500, 3, { initialMs: 200, maxMs: 10_000 }));
    expect(min).toBeGreaterThanOrEqual(800);
    expect(max).toBe(1_000);
    expect(distinct).toBeGreaterThan(10);
  });
});

describe("sleep", () => {
  it("resolves after the given time, not before", async () => {
    const started = performance.now();
    await sleep(50);
    expect(performance.now() - started).toBeGreaterThanOrEqual(48);
  });

  it("resolves at once when a signal is already aborted", async () => {
    expect(await settlesWithin(sleep(60_000, undefined, AbortSignal.abort(new Error("gone"))), 1_000)).toBe(true);
  });

  it("resolves (never rejects) as soon as any signal aborts", async () => {
    const first = new AbortController();
    const second = new AbortController();
    const slept = sleep(60_000, first.signal, undefined, second.signal);
    expect(await settlesWithin(slept, 30)).toBe(false);
    second.abort(new Error("wake up"));
    expect(await settlesWithin(slept, 1_000)).toBe(true);
    await expect(slept).resolves.toBeUndefined();
  });
});

describe("anySignal", () => {
  it("is undefined without signals, and the signal itself when there is one", () => {
    expect(anySignal()).toBeUndefined();
    expect(anySignal(undefined, undefined)).toBeUndefined();
    const only = new AbortController().signal;
    expect(anySignal(undefined, only)).toBe(only);
  });

  // The second run takes the fallback for browsers without AbortSignal.any (Safari < 17.4).
  for (const withAny of [true, false]) {
    describe(withAny ? "with AbortSignal.any" : "without AbortSignal.any", () => {
      const run = <T>(body: () => T): T => {
        const any = AbortSignal.any;
        if (!withAny) (AbortSignal as { any?: unknown }).any = undefined;
        try {
          return body();
        } finally {
          AbortSignal.any = any;
        }
      };

      it("aborts when any one does, with that one's reason", () => {
        const a = new AbortController();
        const b = new AbortController();
        const combined = run(() => anySignal(a.signal, b.signal))!;
        expect(combined.aborted).toBe(false);
        const reason = new Error("b gave up");
        b.abort(reason);
        expect(combined.aborted).toBe(true);
        expect(combined.reason).toBe(reason);
        a.abort(new Error("too late"));
        expect(combined.reason).toBe(reason);
      });

      it("is aborted already when one of its signals is", () => {
        const reason = new Error("already");
        const combined = run(() => anySignal(new AbortController().signal, AbortSignal.abort(reason)))!;
        expect(combined.aborted).toBe(true);
        expect(combined.reason).toBe(reason);
      });
    });
  }
});
