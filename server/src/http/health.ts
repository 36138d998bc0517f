/** Liveness and readiness (PROTOCOL.md §5). */
import { ERROR_CODES } from "@scrollback/client/protocol";
import type { Router } from "express";
import { AppError, unavailable } from "../errors.js";
import type { Metrics } from "../metrics.js";
import type { Store } from "../store/store.js";
import { withTimeout } from "../with-timeout.js";
import { exactRouter } from "./exact-router.js";

/** How long /readyz waits for the store before answering 503. */
const READINESS_TIMEOUT_MS = 1_000;

export function createHealthRouter(store: Store, metrics: Metrics): Router {
  const router = exactRouter();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/readyz", async (_req, res) => {
    const failure = await checkStore(store);
    metrics.storeUp.set(failure ? 0 : 1);
    if (failure) {
      res.status(503).json({ store: store.kind, error: failure.toBody() });
      return;
    }
    // Full is still ready (200): every replica shares the one Redis, so a 503
    // would take them all out of rotation, refusing the reads and clears that
    // still work along with the adds that cannot.
    const full = await checkFull(store, metrics);
    res.json(full ? { store: store.kind, full } : { store: store.kind });
  });
  return router;
}

/** Whether the store is out of space for adds (PROTOCOL.md §5), also set as `scrollback_store_full`. */
export async function checkFull(store: Store, metrics: Metrics): Promise<boolean> {
  const full = (await store.isFull?.().catch(() => false)) ?? false;
  metrics.storeFull.set(full ? 1 : 0);
  return full;
}

/**
 * Undefined when the store answers a ping within the readiness timeout, else
 * the UNAVAILABLE to answer: the store's own when it says what does not
 * answer (a Cluster master), a generic one otherwise.
 */
export async function checkStore(store: Store): Promise<AppError | undefined> {
  const silent = () => unavailable("the store does not answer");
  try {
    await withTimeout(store.ping(), {
      ms: READINESS_TIMEOUT_MS,
      onTimeout: () => {
        throw silent();
      },
    });
    return undefined;
  } catch (error) {
    return error instanceof AppError && error.code === ERROR_CODES.UNAVAILABLE ? error : silent();
  }
}
