/** GET /metrics: Prometheus text. */
import { Router } from "express";
import type { Metrics } from "../metrics.js";

export function createMetricsRouter(metrics: Metrics): Router {
  const router = Router();
  router.get("/metrics", async (_req, res) => {
    res.set("Content-Type", metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });
  return router;
}
