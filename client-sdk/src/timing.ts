/** Backoff and interruptible waits for reconnects and retries. */

export interface BackoffOptions {
  /** The first delay (before jitter). */
  initialMs: number;
  /** The largest delay. */
  maxMs: number;
}

/**
 * Exponential backoff with "equal jitter": between half and all of
 * `initialMs * 2^failures`, capped at `maxMs`, so that many clients that lost
 * the same replica do not come back in lockstep.
 */
export function backoffDelay(failures: number, options: BackoffOptions): number {
  const cap = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(failures, 30));
  return cap / 2 + (Math.random() * cap) / 2;
}

/** Resolves after `ms`, or as soon as any of `signals` aborts (never rejects). */
export function sleep(ms: number, ...signals: (AbortSignal | undefined)[]): Promise<void> {
  return new Promise((resolve) => {
    const live = signals.filter((signal): signal is AbortSignal => signal !== undefined);
    const done = () => {
      clearTimeout(timer);
      for (const signal of live) signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    for (const signal of live) {
      if (signal.aborted) return done();
      signal.addEventListener("abort", done, { once: true });
    }
  });
}

/** One signal that aborts when any of the given ones does (undefined when none is given). */
export function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const live = signals.filter((signal): signal is AbortSignal => signal !== undefined);
  if (live.length <= 1) return live[0];
  if (typeof AbortSignal.any === "function") return AbortSignal.any(live);
  // Browsers before AbortSignal.any (Safari < 17.4).
  const combined = new AbortController();
  for (const signal of live) {
    if (signal.aborted) combined.abort(signal.reason);
    else signal.addEventListener("abort", () => combined.abort(signal.reason), { once: true });
  }
  return combined.signal;
}

/**
 * How long to wait before retrying a request the server refused as retryable:
 * the backoff, but never less than the server's `retryAfterMs` and, when the
 * server named one, not much more (at most twice it).
 */
export function retryDelay(retryAfterMs: number | undefined, failures: number, options: BackoffOptions): number {
  const backoff = backoffDelay(failures, options);
  return retryAfterMs === undefined ? backoff : Math.max(retryAfterMs, Math.min(backoff, retryAfterMs * 2));
}
