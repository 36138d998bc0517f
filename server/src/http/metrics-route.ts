/** GET /metrics: Prometheus text. */
import type { Router } from "express";
import type { Metrics } from "../metrics.js";
import type { Store } from "../store/store.js";
import { exactRouter } from "./exact-router.js";
import { checkFull, checkStore } from "./health.js";

export function createMetricsRouter(metrics: Metrics, store: Store): Router {
  const router = exactRouter();
  router.get("/metrics", async (_req, res) => {
    // scrollback_store_up is what the store answers now, with /readyz's ping
    // and deadline, on either store; Redis's connection events update it between scrapes.
    metrics.storeUp.set((await checkStore(store)) ? 0 : 1);
    await checkFull(store, metrics);
    res.set("Content-Type", metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });
  return router;
}
