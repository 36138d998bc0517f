/**
 * The demo chat widget (PROTOCOL.md §6), built on the SDK's browser bundle:
 * `/widget/scrollback.js` defines `window.Scrollback`; this file, the entry of
 * `/widget/app.js`, finds out who the visitor is (signing them in when needed)
 * and starts the chat view (chat-view.ts).
 *
 * Page parameters:
 *   ?server=URL        a replica to talk to; repeat (or comma-separate) for several (default: this site);
 *                      only this site and the servers of its WIDGET_SERVERS: the page hands them the visitor's token and outbox
 *   ?user=ID           dev mode: who to be (otherwise asked, then remembered)
 *   #token=JWT         the user's token (taken out of the address bar once read)
 *   ?tokenUrl=/path    an endpoint on this site answering `{ "token": "…" }` (or the bare token), asked on every (re)connect
 */
import type * as Sdk from "@scrollback/client";
import type { Credentials } from "@scrollback/client";
import { USER_ID_PATTERN } from "@scrollback/client/protocol";
import { ChatView } from "./chat-view.js";
import { $ } from "./dom.js";

declare global {
  interface Window {
    Scrollback: typeof Sdk;
  }
}

interface WidgetConfig {
  authMode: "dev" | "jwt";
  tokenUrl?: string;
  /** Origins of the other servers this page may use (WIDGET_SERVERS). */
  servers?: string[];
}

const USER_KEY = "scrollback:userId";
const config = JSON.parse($("#scrollback-config").textContent ?? "{}") as WidgetConfig;
const params = new URLSearchParams(location.search);
const fragmentToken = takeFragmentToken();

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

/** Who to be, from the page's parameters; undefined when the visitor must sign in first. */
function readCredentials(): Credentials | undefined {
  if (fragmentToken) return { token: fragmentToken };
  const tokenUrl = params.get("tokenUrl") ?? config.tokenUrl;
  if (tokenUrl) {
    const url = new URL(tokenUrl, location.href);
    // Only this site's endpoint: a link must not be able to sign the visitor in as someone else.
    if (url.origin !== location.origin) throw new Error("tokenUrl must be on this site");
    return { token: () => fetchToken(url) };
  }
  if (config.authMode !== "dev") return undefined;
  const userId = params.get("user") ?? localStorage.getItem(USER_KEY);
  if (!userId || !USER_ID_PATTERN.test(userId)) return undefined;
  localStorage.setItem(USER_KEY, userId);
  return { userId };
}

async function fetchToken(url: URL): Promise<string> {
  const response = await fetch(url, { credentials: "same-origin", headers: { accept: "application/json, text/plain" } });
  if (!response.ok) throw new Error(`token endpoint answered ${response.status}`);
  const text = (await response.text()).trim();
  if (!text.startsWith("{")) return text;
  const { token } = JSON.parse(text) as { token?: unknown };
  if (typeof token !== "string") throw new Error("token endpoint answered no token");
  return token;
}

/**
 * The servers to connect to: the origins named by `?server=` values, or this
 * site. A link must not be able to send the visitor's token or outbox
 * elsewhere, so every value must be a plain origin (no user info, path, query
 * or fragment) of this site or one of its WIDGET_SERVERS; otherwise this
 * throws and nothing connects. Only the normalised origin goes on to the SDK,
 * never the value as given: socket.io-client parses addresses its own way
 * (for `http://site\@evil` the browser reads host `site`, socket.io-client
 * reads `evil`).
 */
function readServers(): string[] {
  const given = params
    .getAll("server")
    .flatMap((value) => value.split(","))
    .map((value) => value.trim())
    .filter(Boolean);
  if (given.length === 0) return [location.origin];
  const allowed = new Set([location.origin, ...(config.servers ?? [])]);
  const origins = given.map(originOf);
  const refused = given.filter((_, index) => !allowed.has(origins[index] ?? "null"));
  if (refused.length > 0) {
    throw new Error(`Not connecting: ${refused.join(", ")} is not one of this site's servers (WIDGET_SERVERS).`);
  }
  return origins;
}

/**
 * The http(s) origin a server address names (a ws(s) address counts as its
 * http(s) twin); "null" when it is no URL or more than an origin (user info,
 * a path other than "/", a query or a fragment).
 */
function originOf(value: string): string {
  let url: URL;
  try {
    url = new URL(value, location.href);
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

/** The dev-mode sign-in: remembers the id and starts the chat. */
function askForUser(servers: string[]): void {
  const gate = $<HTMLElement>(".gate");
  const form = $<HTMLFormElement>('[data-gate="dev"]');
  const input = $<HTMLInputElement>("#user-id");
  input.pattern = USER_ID_PATTERN.source;
  gate.hidden = false;
  form.hidden = false;
  input.focus();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const userId = input.value.trim();
    if (!USER_ID_PATTERN.test(userId)) return void input.reportValidity();
    localStorage.setItem(USER_KEY, userId);
    gate.hidden = true;
    startChat(servers, { userId });
  });
}

function startChat(servers: string[], credentials: Credentials): void {
  const client = window.Scrollback.connect(servers, { ...credentials, persist: true });
  new ChatView(client, credentials.userId ? signOut : undefined);
}

/** Forgets the dev-mode user and reloads without `?user`, so the page asks again. */
function signOut(): void {
  localStorage.removeItem(USER_KEY);
  const url = new URL(location.href);
  url.searchParams.delete("user");
  location.assign(url);
}

try {
  // The servers first: a refused one must stop the page before it asks anyone for a token.
  const servers = readServers();
  const credentials = readCredentials();
  if (credentials) startChat(servers, credentials);
  else if (config.authMode === "dev") askForUser(servers);
  else {
    $<HTMLElement>(".gate").hidden = false;
    $<HTMLElement>('[data-gate="token"]').hidden = false;
  }
} catch (error) {
  $<HTMLElement>('[data-testid="status"]').dataset.status = "offline";
  $<HTMLElement>('[data-testid="status"] > :last-child').textContent = "Not connected";
  const line = $<HTMLElement>('[data-testid="error"]');
  line.hidden = false;
  line.textContent = error instanceof Error ? error.message : String(error);
}
