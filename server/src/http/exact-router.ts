/**
 * The one way scrollback makes an express Router. Express matches paths
 * case-insensitively and ignores a trailing slash unless told otherwise, so
 * `/METRICS` and `/metrics/` would reach the /metrics handler while a proxy
 * rule written for `/metrics` lets them through. Every route here is exact.
 */
import { Router } from "express";

export function exactRouter(): Router {
  return Router({ caseSensitive: true, strict: true });
}
