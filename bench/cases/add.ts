import type { ThroughputCase } from "./throughput.js";

/** `message:add` in a closed loop against one server. */
export const addCase: ThroughputCase = { name: "add", event: "message:add", replicas: 1 };
