/**
 * 10,000 connections opening at once, against one server process on a real
 * Redis: every one is authenticated, joins its room and gets its
 * history:load answered. The clients are raw WebSockets speaking the
 * Engine.IO/Socket.IO handshake by hand, light enough to hold 10,000 in the
 * test process (each side stays well under `ulimit -n`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { openRaw, type RawSocket } from "../support/raw-socket.js";
import { type ServerProcess, spawnServer } from "../support/servers.js";
import { metric } from "./probes.js";

const COUNT = 10_000;

let redis: RedisServer;
let server: ServerProcess;
const raws: RawSocket[] = [];

beforeAll(async () => {
  redis = await startRedis();
  await redis
    .client()
    .rpush("temp_memory:crowd_0:messages", JSON.stringify({ id: "seed", role: "user", content: "hello crowd", timestamp: null }));
  server = await spawnServer({ STORE: "redis", REDIS_URL: redis.url, LOG_LEVEL: "warn" });
});

afterAll(async () => {
  for (const raw of raws) raw.close();
  await server?.stop();
  await redis?.stop();
});

describe(`${COUNT.toLocaleString("en")} connections opening at once`, () => {
  it("are all connected and served", async () => {
    const started = performance.now();
    let served = 0;
    const attempts = await Promise.allSettled(
      Array.from({ length: COUNT }, async (_, i) => {
        const raw = await openRaw(server.url, { userId: `crowd_${i % 1_000}` }, 90_000);
        raws.push(raw);
        raw.send('421["history:load"]');
        const [answer] = JSON.parse((await raw.next("431", 90_000)).slice(3));
        // Thrown with its error, so that a failure says which code it was.
        if (!answer.ok) throw new Error(`history:load answered ${JSON.stringify(answer.error)}`);
        if (i % 1_000 === 0) expect(answer.messages.map((m: { id: string }) => m.id)).toEqual(["seed"]);
        served++;
      }),
    );
    const tookMs = performance.now() - started;
    const failures = attempts.filter((attempt) => attempt.status === "rejected") as PromiseRejectedResult[];
    const connections = await metric(server.url, "scrollback_connections");
    const rssMb = (await metric(server.url, "process_resident_memory_bytes")) / 1e6;
    console.info(
      `[${COUNT} connections at once] served=${served} in ${(tookMs / 1000).toFixed(1)}s, server connections=${connections}, server RSS=${rssMb.toFixed(0)} MB`,
    );
    expect(failures.map((failure) => String(failure.reason)).slice(0, 5)).toEqual([]);
    expect(served).toBe(COUNT);
    expect(connections).toBe(COUNT);
    expect(server.process.exitCode).toBeNull();
  }, 180_000);
});
