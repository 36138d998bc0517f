/**
 * The receiving replica's CPU per delivered message, alone: two scrollback
 * replicas on one Redis, `--tabs` connections of each of `--users` users on
 * replica B, one sender connection per user on replica A. A fixed number of
 * adds go through A (closed loop); B only delivers. Prints B's CPU per
 * delivered message and A's CPU per add (microseconds, `process.cpuUsage`).
 *
 *   node --conditions=@scrollback/source --import tsx bench/delivery-cost.ts [--root DIR] [--rounds 3]
 *
 * `--profile DIR` writes a CPU profile of replica B there. `--root` runs the server of another checkout (e.g. a worktree of the
 * commit before a change), so both can be measured on the same machine state.
 */
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { io, type Socket } from "socket.io-client";
import { startRedis } from "../dev/redis-server.js";
import { startWorker, type Worker } from "./ipc.js";
import type { ProcessUsage, ServerProcessOptions } from "./server-process.js";

const { values } = parseArgs({
  options: {
    root: { type: "string" },
    users: { type: "string", default: "20" },
    tabs: { type: "string", default: "5" },
    adds: { type: "string", default: "20000" },
    inflight: { type: "string", default: "4" },
    rounds: { type: "string", default: "3" },
    profile: { type: "string" },
  },
});
const users = Number(values.users);
const tabs = Number(values.tabs);
const adds = Number(values.adds);
const inflight = Number(values.inflight);
const script = values.root ? join(resolve(values.root), "bench/server-process.ts") : "./server-process.ts";

function connect(url: string, userId: string): Promise<Socket> {
  const socket = io(url, { transports: ["websocket"], forceNew: true, reconnection: false, auth: { userId } });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

async function cpu(worker: Worker): Promise<number> {
  return (await worker.call<ProcessUsage>("usage")).cpuMicros;
}

const redis = await startRedis();
const options: ServerProcessOptions = {
  variant: "scrollback",
  settings: { redisUrl: redis.url, keyPrefix: "temp_memory", historyMax: 15, historyTtlSeconds: 86_400, contentBytes: 200 },
};
const [a, b] = await Promise.all(
  ["A", "B"].map((label) =>
    startWorker(script, {
      env: { BENCH_SERVER: JSON.stringify(options) },
      // `--profile DIR`: a V8 CPU profile of replica B (bench/profile-summary.ts reads it).
      nodeFlags: values.profile && label === "B" ? ["--cpu-prof", `--cpu-prof-dir=${resolve(values.profile)}`] : [],
      label: `replica ${label}`,
    }),
  ),
);
const [urlA, urlB] = await Promise.all([a!, b!].map(async (worker) => `http://127.0.0.1:${await worker.call<number>("port")}`));
const senders: Socket[] = [];
const receivers: Socket[] = [];
let delivered = 0;
for (let u = 0; u < users; u++) {
  const userId = `cost_${u}`;
  senders.push(await connect(urlA!, userId));
  for (let t = 0; t < tabs; t++) {
    const tab = await connect(urlB!, userId);
    tab.on("message:new", () => delivered++);
    receivers.push(tab);
  }
}

const content = "x".repeat(200);
async function run(count: number): Promise<void> {
  let remaining = count;
  await new Promise<void>((done) => {
    let open = 0;
    const next = (socket: Socket) => {
      if (remaining === 0) {
        if (open === 0) done();
        return;
      }
      remaining--;
      open++;
      socket.emit("message:add", { content }, () => {
        open--;
        next(socket);
      });
    };
    for (const socket of senders) for (let i = 0; i < inflight; i++) next(socket);
  });
}

async function settle(target: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (delivered < target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

await run(2_000); // warm-up
await settle(2_000 * tabs);
const perDelivery: number[] = [];
const perAdd: number[] = [];
const receiverPerAdd: number[] = [];
for (let round = 0; round < Number(values.rounds); round++) {
  const start = delivered;
  const [cpuA0, cpuB0] = [await cpu(a!), await cpu(b!)];
  await run(adds);
  await settle(start + adds * tabs);
  const [cpuA1, cpuB1] = [await cpu(a!), await cpu(b!)];
  const got = delivered - start;
  perDelivery.push((cpuB1 - cpuB0) / got);
  perAdd.push((cpuA1 - cpuA0) / adds);
  receiverPerAdd.push((cpuB1 - cpuB0) / adds);
  process.stderr.write(
    `round ${round + 1}: ${got}/${adds * tabs} delivered; B ${((cpuB1 - cpuB0) / got).toFixed(2)} µs/delivery, A ${((cpuA1 - cpuA0) / adds).toFixed(1)} µs/add\n`,
  );
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
console.log(
  JSON.stringify({
    root: values.root ?? ".",
    users,
    tabs,
    adds,
    receiverMicrosPerDelivery: Number(median(perDelivery).toFixed(2)),
    receiverMicrosPerAdd: Number(median(receiverPerAdd).toFixed(1)),
    senderMicrosPerAdd: Number(median(perAdd).toFixed(1)),
  }),
);
for (const socket of [...senders, ...receivers]) socket.disconnect();
await Promise.all([a!.stop(), b!.stop()]);
await redis.stop();
