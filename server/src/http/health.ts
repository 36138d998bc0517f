/** Liveness and readiness (PROTOCOL.md §5). */
import type { Router } from "express";
import { exactRouter } from "./exact-router.js";
import type { Metrics } from "../metrics.js";
import type { Store } from "../store/store.js";

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
    else res.status(503).json({ store: store.kind, error: { code: "UNAVAILABLE", message: "the store does not answer" } });
  });
  return router;
}

/** Whether the store answers a ping within the readiness timeout. */
export async function checkStore(store: Store): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      store.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("timeout")), READINESS_TIMEOUT_MS);
      }),
    ]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
