/**
 * batched-writes.ts against the real stack (socket.io, engine.io, ws, a real
 * TCP connection): a burst of packets to one connection leaves in a couple of
 * system-call writes instead of one per packet, and arrives whole, in order.
 */
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";
import { type Socket as ClientSocket, io as ioClient } from "socket.io-client";
import { afterEach, expect, it } from "vitest";
import { batchWritesOfEveryConnection } from "../../server/src/realtime/batched-writes.js";
import { until } from "../support/wait.js";

const BURST = 50;

interface Setup {
  io: Server;
  http: HttpServer;
  client: ClientSocket;
}

let setup: Setup | undefined;

afterEach(async () => {
  setup?.client.close();
  if (setup) await new Promise<void>((resolve) => setup!.io.close(() => resolve()));
  setup = undefined;
});

/** Emits BURST events to one connection in one go; returns how many writes reached its TCP socket and what arrived. */
async function burst(batched: boolean, upgrade = false): Promise<{ writes: number; received: number[] }> {
  const http = createServer();
  const io = new Server(http);
  if (batched) batchWritesOfEveryConnection(io.engine);
  type Connection = { conn: { transport: { name: string; socket: { _socket: Record<string, unknown> } } } };
  const connected = new Promise<Connection>((resolve) => io.on("connection", (socket) => resolve(socket as never)));
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const client = ioClient(`http://127.0.0.1:${(http.address() as AddressInfo).port}`, {
    transports: upgrade ? ["polling", "websocket"] : ["websocket"],
    forceNew: true,
    reconnection: false,
  });
  setup = { io, http, client };
  const received: number[] = [];
  client.on("n", (n: number) => received.push(n));
  const serverSocket = await connected;
  await until("the connection is on WebSocket", () => serverSocket.conn.transport.name === "websocket", 5_000, 10);

  // Count the writes that reach the TCP socket (`_writev` for several chunks at once, `_write` for one).
  const tcp = serverSocket.conn.transport.socket._socket;
  let writes = 0;
  for (const name of ["_write", "_writev"]) {
    const original = tcp[name] as (...args: unknown[]) => unknown;
    tcp[name] = (...args: unknown[]) => {
      writes++;
      return original.apply(tcp, args);
    };
  }
  const socket = serverSocket as unknown as { emit(event: string, n: number): void };
  for (let n = 0; n < BURST; n++) socket.emit("n", n);
  await until("every event arrived", async () => received.length >= BURST, 5_000, 10);
  return { writes, received };
}

it("a burst to one connection leaves in a couple of writes, whole and in order", async () => {
  const { writes, received } = await burst(true);
  expect(received).toEqual(Array.from({ length: BURST }, (_, n) => n));
  expect(writes).toBeLessThanOrEqual(3);
});

it("also batches a connection that started on polling and upgraded", async () => {
  const { writes, received } = await burst(true, true);
  expect(received).toEqual(Array.from({ length: BURST }, (_, n) => n));
  expect(writes).toBeLessThanOrEqual(3);
});

it("without it, the same burst costs a write per packet (what the test above would catch)", async () => {
  const { writes, received } = await burst(false);
  expect(received).toEqual(Array.from({ length: BURST }, (_, n) => n));
  expect(writes).toBeGreaterThan(BURST / 2);
});
