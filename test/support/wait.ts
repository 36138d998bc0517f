/**
 * Waiting on state that has no event: a Redis failover, a replica becoming
 * ready. Polls briefly and fails with a message naming what never happened.
 */

/** Calls `check` every `intervalMs` until it returns true (errors count as false); throws after `timeoutMs`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`not true within ${timeoutMs} ms: ${what}${lastError ? ` (last error: ${String(lastError)})` : ""}`);
}

/** The status code of GET `url` + `path`, or 0 when nothing answers within 2 s (/readyz may take 1 s to say 503). */
export async function httpStatus(url: string, path: string): Promise<number> {
  try {
    return (await fetch(url + path, { signal: AbortSignal.timeout(2_000) })).status;
  } catch {
    return 0;
  }
}

/** Resolves once `/readyz` answers 200 (the store answers). */
export async function waitReady(url: string, timeoutMs = 30_000): Promise<void> {
  await until(`${url}/readyz answers 200`, async () => (await httpStatus(url, "/readyz")) === 200, timeoutMs);
}
