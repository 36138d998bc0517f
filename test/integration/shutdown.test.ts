/** Graceful shutdown: SIGTERM stops accepting, lets in-flight acks finish, closes Redis, exits 0 within 10 s. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { connect, type TestSocket } from "../support/clients.js";
import { spawnServer } from "../support/servers.js";

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

describe("SIGTERM", () => {
  it("answers every in-flight add, stores every ok, refuses new connections and exits 0 within 10 s", async () => {
    const server = await spawnServer({ STORE: "redis", REDIS_URL: redis.url });
    try {
      const socket: TestSocket = await connect(server.url, { userId: "draining" });
      const answers: Promise<{ ok: boolean; message?: { id: string }; error?: { code: string } }>[] = [];
      for (let i = 0; i < 200; i++)
        answers.push(socket.timeout(5_000).emitWithAck("message:add", { id: `drain-${i}`, content: `m${i}` }) as never);
      await answers[0];
      const signalled = Date.now();
      server.process.kill("SIGTERM");

      const settled = await Promise.all(answers);
      // Every add got an answer: stored, or refused as retryable while draining.
      for (const answer of settled) {
        if (!answer.ok) expect(answer.error?.code).toBe("UNAVAILABLE");
      }
      expect(await server.exited).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(10_000);

      const stored = (await redis.client().lrange("temp_memory:draining:messages", 0, -1)).map((element) => JSON.parse(element).id);
      const okIds = settled.filter((answer) => answer.ok).map((answer) => answer.message!.id);
      expect(okIds.length).toBeGreaterThan(0);
      // HISTORY_MAX keeps the newest 15: every acked id among the last 15 stored must be there, in order.
      expect(stored).toEqual(okIds.slice(-15));
      const refusedIds = settled.flatMap((answer, i) => (answer.ok ? [] : [`drain-${i}`]));
      for (const id of refusedIds) expect(stored).not.toContain(id);
      socket.close();
      await expect(connect(server.url, { userId: "late" })).rejects.toThrow();
    } finally {
      await server.stop();
    }
  });
});
