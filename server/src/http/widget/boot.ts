/**
 * The demo page at `/` (PROTOCOL.md §6): a `<scrollback-chat>` configured
 * from the page's parameters. The element (`/widget/scrollback-chat.js`)
 * does the chatting; this file, the entry of `/widget/app.js`, decides which
 * servers and credentials a link may give it. It runs before the element's
 * script, so the element starts fully configured (a property set now is
 * taken over when the element is defined).
 *
 * Page parameters:
 *   ?server=URL        a replica to talk to; repeat (or comma-separate) for several (default: this site);
 *                      only this site and the servers of its WIDGET_SERVERS: the page hands them the visitor's token and outbox
 *   ?user=ID           dev mode: who to be (otherwise asked, then remembered)
 *   #token=JWT         the user's token (taken out of the address bar once read)
 *   ?tokenUrl=/path    an endpoint on this site answering `{ "token": "…" }` (or the bare token), asked on every (re)connect
 */
import { USER_ID_PATTERN } from "@scrollback/client/protocol";
import type { ScrollbackChatElement } from "./element.js";
import { originOf } from "./origins.js";

interface WidgetConfig {
  authMode: "dev" | "jwt";
  tokenUrl?: string;
  /** Origins of the other servers this page may use (WIDGET_SERVERS). */
  servers?: string[];
}

const USER_KEY = "scrollback:userId";
const config = JSON.parse(document.getElementById("scrollback-config")?.textContent ?? "{}") as WidgetConfig;
const params = new URLSearchParams(location.search);
const fragmentToken = takeFragmentToken();
const chat = document.querySelector("scrollback-chat");

/**
 * The `#token=` of the page's address, taken out of the address bar as soon
 * as it is read, so it does not stay in the history, bookmarks or screenshots.
 */
function takeFragmentToken(): string | undefined {
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (!fragment.has("token")) return undefined;
  const token = fragment.get("token");
  fragment.delete("token");
  const rest = fragment.toString();
  history.replaceState(history.state, "", `${location.pathname}${location.search}${rest ? `#${rest}` : ""}`);
  return token || undefined;
}

/**
 * The servers to connect to: the origins named by `?server=` values, or this
 * site. A link must not be able to send the visitor's token or outbox
 * elsewhere, so every value must be a plain origin of this site or one of its
 * WIDGET_SERVERS; otherwise this throws and nothing connects.
 */
function readServers(): string[] {
  const given = params
    .getAll("server")
    .flatMap((value) => value.split(","))
    .map((value) => value.trim())
    .filter(Boolean);
  if (given.length === 0) return [location.origin];
  const allowed = new Set([location.origin, ...(config.servers ?? [])]);
  const origins = given.map((value) => originOf(value, location.href));
  const refused = given.filter((_, index) => !allowed.has(origins[index] ?? "null"));
  if (refused.length > 0) {
    throw new Error(`Not connecting: ${refused.join(", ")} is not one of this site's servers (WIDGET_SERVERS).`);
  }
  return origins;
}

/** Gives the element its servers and credentials; throws (before any credential is handed over) for a refused server. */
function configure(element: ScrollbackChatElement): void {
  // The servers first: a refused one must stop the page before it asks anyone for a token.
  element.setAttribute("server", readServers().join(" "));
  if (fragmentToken) {
    element.token = fragmentToken;
    return;
  }
  const tokenUrl = params.get("tokenUrl") ?? config.tokenUrl;
  if (tokenUrl) {
    const url = new URL(tokenUrl, location.href);
    // Only this site's endpoint: a link must not be able to sign the visitor in as someone else.
    if (url.origin !== location.origin) throw new Error("tokenUrl must be on this site");
    element.setAttribute("token-url", url.href);
    return;
  }
  if (config.authMode !== "dev") return;
  element.setAttribute("sign-in", "dev");
  const userId = params.get("user") ?? localStorage.getItem(USER_KEY);
  if (!userId || !USER_ID_PATTERN.test(userId)) return;
  localStorage.setItem(USER_KEY, userId);
  element.setAttribute("user", userId);
}

if (chat) {
  chat.addEventListener("scrollback-sign-in", (event) => {
    localStorage.setItem(USER_KEY, (event as CustomEvent<{ userId: string }>).detail.userId);
  });
  // The element asks for a user again; the page forgets the old one and drops `?user` from its address.
  chat.addEventListener("scrollback-sign-out", () => {
    localStorage.removeItem(USER_KEY);
    const url = new URL(location.href);
    url.searchParams.delete("user");
    history.replaceState(history.state, "", url);
  });
  chat.addEventListener("scrollback-unread", (event) => {
    const { count } = (event as CustomEvent<{ count: number }>).detail;
    document.title = count > 0 ? `(${count}) scrollback` : "scrollback";
  });
  try {
    configure(chat);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    void customElements.whenDefined("scrollback-chat").then(() => chat.fail(reason));
  }
}
