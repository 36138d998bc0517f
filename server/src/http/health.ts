/** Liveness and readiness (PROTOCOL.md §5). */
import { ERROR_CODES } from "@scrollback/client/protocol";
import type { Router } from "express";
import { exactRouter } from "./exact-router.js";
import type { Metrics } from "../metrics.js";
import type { Store } from "../store/store.js";
import { withTimeout } from "../with-timeout.js";

/** How long /readyz waits for the store before answering 503. */
const READINESS_TIMEOUT_MS = 1_000;

export function createHealthRouter(store: Store, metrics: Metrics): Router {
  const router = exactRouter();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/readyz", async (_req, res) => {
    const ready = await checkStore(store);
    metrics.redisUp.set(ready ? 1 : 0);
    if (ready) res.json({ store: store.kind });
    else res.status(503).json({ store: store.kind, error: { code: ERROR_CODES.UNAVAILABLE, message: "the store does not answer" } });
  });
  return router;
}

/** Whether the store answers a ping within the readiness timeout. */
export async function checkStore(store: Store): Promise<boolean> {
  try {
    await withTimeout(store.ping(), {
      ms: READINESS_TIMEOUT_MS,
      onTimeout: () => {
        throw new Error("timeout");
      },
    });
    return true;
  } catch {
    return false;
  }
}
