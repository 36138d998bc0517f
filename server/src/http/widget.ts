/** GET /: the demo chat page (a placeholder until the SDK widget lands). */
import { Router } from "express";

const PLACEHOLDER = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>scrollback</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem;">
<h1>scrollback</h1>
<p>The server is running. The demo chat widget arrives with the client SDK.</p>
<p>Health: <a href="/healthz">/healthz</a> · Readiness: <a href="/readyz">/readyz</a> · Metrics: <a href="/metrics">/metrics</a></p>
</body>
</html>`;

export function createWidgetRouter(): Router {
  const router = Router();
  router.get("/", (_req, res) => {
    res.type("html").send(PLACEHOLDER);
  });
  return router;
}
