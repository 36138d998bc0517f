/**
 * Whose messages a client holds, read from its credentials without verifying
 * them (the server does that). Used only to keep one user's persisted outbox
 * away from another user who signs in on the same browser.
 */

/** The dev-mode userId, or the `sub` claim of a JWT; undefined when unreadable. */
export function identityOf(auth: { token?: string; userId?: string }): string | undefined {
  if (auth.userId !== undefined) return auth.userId;
  const payload = auth.token?.split(".")[1];
  if (!payload) return undefined;
  try {
    const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
    const claims: unknown = JSON.parse(new TextDecoder().decode(bytes));
    const sub = typeof claims === "object" && claims !== null ? (claims as { sub?: unknown }).sub : undefined;
    return typeof sub === "string" ? sub : undefined;
  } catch {
    return undefined;
  }
}
