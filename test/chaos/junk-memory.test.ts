/**
 * Memory stays bounded under junk: a server process limited to a 96 MB heap
 * (so a leak would kill it) takes 20,000 hostile payloads on every event,
 * 3,000 connections that open, send and vanish, and 100 frames just under
 * the 1 MB limit. It stays up, answers, holds no leftover connections, and
 * its heap ends where it started.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { anything, invalidAdd, invalidLoad, invalidSearch } from "../fuzz/arbitraries.js";
import { request, requestRaw } from "../support/clients.js";
import { openRaw } from "../support/raw-socket.js";
import { useServerProcessOnRedis } from "../support/server-process-on-redis.js";
import { until } from "../support/wait.js";
import { metric } from "./probes.js";

const HEAP_LIMIT_MB = 96;

const suite = useServerProcessOnRedis(
  { LOG_LEVEL: "warn", NODE_OPTIONS: `--max-old-space-size=${HEAP_LIMIT_MB}` },
  Array.from({ length: 4 }, (_, i) => `junk_${i}`),
);

const heapMb = async () => (await metric(suite.server.url, "nodejs_heap_size_used_bytes")) / 1e6;

describe("a server with a 96 MB heap under junk", () => {
  it("survives it all, keeps no leftovers, and ends with the heap it started with", async () => {
    await request(suite.sockets[0]!, "history:load");
    const heapBefore = await heapMb();

    // 20,000 hostile payloads, 5,000 per connection, 50 in flight at a time.
    const events = ["message:add", "history:load", "history:search", "history:clear"] as const;
    const junk = fc.sample(
      fc.oneof(
        anything,
        invalidAdd(16_384).map((i) => i.payload),
        invalidLoad.map((i) => i.payload),
        invalidSearch.map((i) => i.payload),
      ),
      { numRuns: 1_000, seed: 42 },
    );
    await Promise.all(
      suite.sockets.map(async (socket, s) => {
        for (let batch = 0; batch < 100; batch++) {
          await Promise.all(
            Array.from({ length: 50 }, (_, i) => requestRaw(socket, events[(batch + i + s) % 4]!, junk[(batch * 50 + i) % junk.length])),
          );
        }
      }),
    );

    // 3,000 connections that open, send and vanish without a goodbye, 100 at a time.
    for (let round = 0; round < 30; round++) {
      await Promise.all(
        Array.from({ length: 100 }, async (_, i) => {
          const raw = await openRaw(suite.server.url, { userId: `drive_by_${i}` }, 30_000);
          raw.send('421["history:load"]');
          await raw.next("431", 30_000);
          raw.close();
        }),
      );
    }

    // 100 frames just under the 1 MB transport limit.
    for (let i = 0; i < 100; i++)
      expect(await request(suite.sockets[i % 4]!, "message:add", { content: "x".repeat(900_000) })).toMatchObject({
        error: { code: "TOO_LARGE" },
      });

    expect(suite.server.process.exitCode).toBeNull();
    expect((await fetch(`${suite.server.url}/healthz`)).status).toBe(200);
    await until(
      "the drive-by connections are all gone",
      async () => (await metric(suite.server.url, "scrollback_connections")) === suite.sockets.length,
      30_000,
    );
    // Nothing the junk sent was stored.
    expect(await suite.redis.client().keys("temp_memory:junk_*")).toEqual([]);
    // Give the garbage collector some small work to settle on, then compare.
    for (let i = 0; i < 200; i++) await request(suite.sockets[i % 4]!, "history:load");
    const heapAfter = await heapMb();
    const rssMb = (await metric(suite.server.url, "process_resident_memory_bytes")) / 1e6;
    console.info(
      `[junk under a ${HEAP_LIMIT_MB} MB heap] heap ${heapBefore.toFixed(1)} MB before, ${heapAfter.toFixed(1)} MB after; RSS ${rssMb.toFixed(0)} MB`,
    );
    expect(heapAfter).toBeLessThan(heapBefore + 20);
  }, 180_000);
});
