/**
 * `scrollback_http_request_duration_seconds{route,method,status}` for every
 * HTTP request express sees, including those refused before any route
 * handler (a 401 or 404 from the /api/v1 gate, a 400 or 413 from the body
 * parser, a 404 for an unknown path). Socket.IO's own requests never reach
 * express and are not counted here.
 */
import type { NextFunction, Request, RequestHandler, Response } from "express";
import type { Metrics } from "../metrics.js";

/** The API's one path, as a template: the label never carries a user id. */
const API_TEMPLATE = "/api/v1/users/:userId/messages";
const API_PATH = /^\/api\/v1\/users\/[^/]+\/messages$/;
/** Methods kept as they are; anything else is `OTHER`, so a client cannot mint label values. */
const METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/**
 * The route label: the template of the route that answered when express
 * matched one, else the API template when the path has its shape (refused
 * before its handler), `/api/v1/*` for other API paths, `unmatched` for the rest.
 */
export function routeLabel(req: Request): string {
  const matched: unknown = req.route?.path;
  if (typeof matched === "string") return matched;
  const path = req.originalUrl.split("?", 1)[0] ?? "";
  if (API_PATH.test(path)) return API_TEMPLATE;
  if (path === "/api/v1" || path.startsWith("/api/v1/")) return "/api/v1/*";
  return "unmatched";
}

export function requestMetrics(metrics: Metrics): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const startedAt = performance.now();
    res.once("finish", () => {
      const method = METHODS.has(req.method) ? req.method : "OTHER";
      metrics.httpDuration.observe(
        { route: routeLabel(req), method, status: String(res.statusCode) },
        (performance.now() - startedAt) / 1_000,
      );
    });
    next();
  };
}
