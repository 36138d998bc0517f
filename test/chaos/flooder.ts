/**
 * A flooding client, run as its own process by flood.test.ts so that its
 * work does not slow the calm clients the test measures. Sends 1,000
 * `message:add` a second for `durationMs`, reconnecting whenever the server
 * throws it out, then prints its counts as one JSON line.
 *
 * Usage: node --import tsx test/chaos/flooder.ts <url> <userId> <durationMs>
 */
import { io } from "socket.io-client";

const [url, userId, duration] = process.argv.slice(2);
const durationMs = Number(duration);
const stats = { sent: 0, ok: 0, rateLimited: 0, disconnects: 0, connects: 0 };
const until = Date.now() + durationMs;

async function floodOnce(): Promise<void> {
  const socket = io(url!, { auth: { userId }, transports: ["websocket"], reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("connect_error", reject);
  });
  stats.connects++;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (Date.now() >= until) {
        clearInterval(timer);
        socket.close();
        return resolve();
      }
      // 10 events every 10 ms: 1,000 events/s.
      for (let i = 0; i < 10; i++) {
        stats.sent++;
        socket.emit("message:add", { content: "flood" }, (answer: { ok: boolean; error?: { code: string } }) => {
          if (answer.ok) stats.ok++;
          else if (answer.error?.code === "RATE_LIMITED") stats.rateLimited++;
        });
      }
    }, 10);
    socket.once("disconnect", (reason) => {
      clearInterval(timer);
      if (reason === "io server disconnect") stats.disconnects++;
      resolve();
    });
  });
}

while (Date.now() < until) await floodOnce();
process.stdout.write(`${JSON.stringify(stats)}\n`);
process.exit(0);
