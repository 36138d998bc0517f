import { HISTORY_MAX } from "../fleet.js";
import { prefillWindows } from "./prefill.js";
import type { ThroughputCase } from "./throughput.js";

/** `history:load` of a full window in a closed loop against one server. */
export const loadCase: ThroughputCase = {
  name: "load",
  event: "history:load",
  replicas: 1,
  prepare: (context) => prefillWindows(context, HISTORY_MAX),
};
