import type { ThroughputCase } from "./throughput.js";

/** `message:add` on one replica, each user's second connection on another receiving the `message:new`. */
export const fanoutCase: ThroughputCase = { name: "fanout", event: "message:add", replicas: 2 };
