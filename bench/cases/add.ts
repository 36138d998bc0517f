import { LARGE_HISTORY_MAX } from "../results.js";
import { prefillWindows } from "./prefill.js";
import type { ThroughputCase } from "./throughput.js";

/**
 * `message:add` in a closed loop against one server. The `scrollback-h1000`
 * variant keeps HISTORY_MAX=1000 and starts each window with every user's
 * window full, so each add also trims: an add must cost the same whatever the window.
 */
export const addCase: ThroughputCase = {
  name: "add",
  event: "message:add",
  replicas: 1,
  prepare: async (context, variant) => {
    if (variant === "scrollback-h1000") await prefillWindows(context, LARGE_HISTORY_MAX);
  },
};
