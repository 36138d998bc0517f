/** Reading server addresses as origins, for the element and the demo page. */

/**
 * The http(s) origin a server address names (a ws(s) address counts as its
 * http(s) twin), read as the browser's URL parser reads it relative to
 * `base`; "null" when it is no URL or more than an origin (user info, a path
 * other than "/", a query or a fragment). Only this normalised origin goes on
 * to the SDK, never the value as given: socket.io-client parses addresses its
 * own way (for `http://site\@evil` the browser reads host `site`,
 * socket.io-client reads `evil`).
 */
export function originOf(value: string, base: string): string {
  let url: URL;
  try {
    url = new URL(value, base);
  } catch {
    return "null";
  }
  const scheme = url.protocol === "ws:" ? "http:" : url.protocol === "wss:" ? "https:" : url.protocol;
  if (scheme !== "http:" && scheme !== "https:") return "null";
  if (url.username || url.password || url.pathname !== "/" || url.search || url.hash) return "null";
  // A "?" or "#" with nothing after it leaves search and hash empty; the value as given still had it.
  if (/[?#]/.test(value)) return "null";
  return `${scheme}//${url.host}`;
}
