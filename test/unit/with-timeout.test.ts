import { describe, expect, it } from "vitest";
import { withTimeout } from "../../server/src/with-timeout.js";

const later = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

describe("withTimeout", () => {
  it("yields the work's result when it settles in time", async () => {
    await expect(withTimeout(later(5, "done"), { ms: 1_000, onTimeout: () => "late" })).resolves.toBe("done");
    await expect(withTimeout(Promise.reject(new Error("boom")), { ms: 1_000, onTimeout: () => "late" })).rejects.toThrow("boom");
  });

  it("resolves with onTimeout's value, or rejects with what it throws, once the time is up", async () => {
    await expect(withTimeout(later(200, "done"), { ms: 10, onTimeout: () => "gave up" })).resolves.toBe("gave up");
    const thrown = withTimeout(later(200, "done"), {
      ms: 10,
      onTimeout: () => {
        throw new Error("too slow");
      },
    });
    await expect(thrown).rejects.toThrow("too slow");
  });

  it("hands a success after the timeout to lateSuccess, and only then", async () => {
    const late: string[] = [];
    await withTimeout(later(50, "landed"), { ms: 10, onTimeout: () => undefined, lateSuccess: (value) => late.push(value) });
    await withTimeout(later(1, "in time"), { ms: 1_000, onTimeout: () => undefined, lateSuccess: (value) => late.push(value) });
    await later(80, undefined);
    expect(late).toEqual(["landed"]);
  });
});
