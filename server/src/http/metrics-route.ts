/** GET /metrics: Prometheus text. */
import type { Router } from "express";
import type { Metrics } from "../metrics.js";
import { exactRouter } from "./exact-router.js";

export function createMetricsRouter(metrics: Metrics): Router {
  const router = exactRouter();
  router.get("/metrics", async (_req, res) => {
    res.set("Content-Type", metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });
  return router;
}
