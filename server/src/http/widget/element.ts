/**
 * `<scrollback-chat>`: the chat widget as a custom element any site can embed
 * (PROTOCOL.md §6, README "Embed the widget"). Its markup and styles live in
 * an open shadow root; the page themes it through `--scrollback-*` custom
 * properties (element.css).
 *
 * Attributes:
 *   server     replica URLs, space-separated, tried in order (default: the site that served this script);
 *              each must be a plain origin, otherwise nothing connects and the error line says why
 *   token-url  an endpoint answering `{ "token": "…" }` or the bare JWT, fetched with the page's
 *              cookies (`credentials: "include"`) on every (re)connect
 *   user       dev mode only: the user id to be
 *   sign-in    "dev": with no credentials, ask the visitor for a user id (the demo page in dev mode)
 * Properties:
 *   getToken   `() => Promise<string>`, for sites that mint tokens themselves; asked on every (re)connect
 *   token      a fixed JWT (the demo page's `#token=`)
 * The first of token, getToken, token-url and user that is set is used.
 * Events (bubbling, composed), for the host page:
 *   scrollback-sign-in  { userId }  the visitor signed in through the dev-mode form
 *   scrollback-sign-out { userId }  the visitor left through the user chip (dev mode)
 *   scrollback-unread   { count }   messages that arrived while the page was hidden (0 once seen)
 *
 * It connects once it is in the document and configured, restarts when its
 * configuration changes (changes made together count once), and closes its
 * client when it leaves the document.
 */
import { type Credentials, connect, type ScrollbackClient } from "@scrollback/client";
import { USER_ID_PATTERN } from "@scrollback/client/protocol";
import { ChatView } from "./chat-view.js";
import { find } from "./dom.js";
import STYLES from "./element.css";
import { buildMarkup } from "./markup.js";
import { originOf } from "./origins.js";

declare global {
  interface HTMLElementTagNameMap {
    "scrollback-chat": ScrollbackChatElement;
  }
}

/**
 * The site that served this script, the default server. Read while the
 * script first runs: later `document.currentScript` is another script or null.
 */
const SCRIPT_ORIGIN = (() => {
  const script = document.currentScript;
  return script instanceof HTMLScriptElement && script.src ? new URL(script.src).origin : location.origin;
})();

type Setup =
  | { kind: "chat"; servers: string[]; credentials: Credentials }
  | { kind: "gate"; gate: "dev" | "token" }
  | { kind: "error"; message: string };

let shared: CSSStyleSheet | undefined;
/**
 * The stylesheet every instance shares. An adopted stylesheet is no inline
 * `<style>`, so the host page's CSP needs no `style-src 'unsafe-inline'`.
 */
function styles(): CSSStyleSheet {
  if (!shared) {
    shared = new CSSStyleSheet();
    shared.replaceSync(STYLES);
  }
  return shared;
}

export class ScrollbackChatElement extends HTMLElement {
  static readonly observedAttributes = ["server", "token-url", "user", "sign-in"];
  readonly #root: ShadowRoot;
  #getToken: (() => Promise<string>) | undefined;
  #token: string | undefined;
  #failure: string | undefined;
  #client: ScrollbackClient | undefined;
  #session: AbortController | undefined;
  /** The configuration the shown session was built from; undefined when none is shown. */
  #built: unknown[] | undefined;
  #scheduled = false;
  /** The visitor just signed in here: the next session focuses the composer. */
  #focusNext = false;

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: "open" });
    this.#root.adoptedStyleSheets = [styles()];
    // A page may set the properties before this script defined the element: they are own properties then.
    for (const name of ["getToken", "token"] as const) {
      if (Object.hasOwn(this, name)) {
        const value: unknown = this[name];
        Reflect.deleteProperty(this, name);
        Reflect.set(this, name, value);
      }
    }
  }

  /** Asked for a token on every (re)connect; for sites that mint tokens themselves. */
  get getToken(): (() => Promise<string>) | undefined {
    return this.#getToken;
  }
  set getToken(value: (() => Promise<string>) | undefined) {
    if (value !== undefined && value !== null && typeof value !== "function") throw new TypeError("getToken must be a function");
    this.#getToken = value ?? undefined;
    this.#schedule();
  }

  /** A fixed token (it is not re-read, so an expired one signs the visitor out). */
  get token(): string | undefined {
    return this.#token;
  }
  set token(value: string | undefined) {
    this.#token = value || undefined;
    this.#schedule();
  }

  /** The running client, if any (for pages that want its events too). */
  get client(): ScrollbackClient | undefined {
    return this.#client;
  }

  /** Stays unconnected and shows `message` in the error line: for a host page that refuses its own configuration. */
  fail(message: string): void {
    this.#failure = message;
    this.#schedule();
  }

  connectedCallback(): void {
    this.#schedule();
  }
  disconnectedCallback(): void {
    this.#schedule();
  }
  attributeChangedCallback(_name: string, old: string | null, value: string | null): void {
    if (old !== value) this.#schedule();
  }

  /** Changes made together (several attributes, a move within the page) make one update, a microtask later. */
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#update();
    });
  }

  #update(): void {
    if (!this.isConnected) {
      this.#stop();
      this.#built = undefined;
      this.#root.replaceChildren();
      return;
    }
    const inputs = [
      ...ScrollbackChatElement.observedAttributes.map((name) => this.getAttribute(name)),
      this.#getToken,
      this.#token,
      this.#failure,
    ];
    const built = this.#built;
    if (built && inputs.every((value, index) => value === built[index])) return;
    this.#stop();
    this.#built = inputs;
    this.#show(this.#setup());
  }

  /** What to show, from the configuration; an error for a configuration that must not connect. */
  #setup(): Setup {
    if (this.#failure) return { kind: "error", message: this.#failure };
    try {
      const servers = this.#servers();
      const credentials = this.#credentials();
      if (credentials) return { kind: "chat", servers, credentials };
      return { kind: "gate", gate: this.getAttribute("sign-in") === "dev" ? "dev" : "token" };
    } catch (error) {
      return { kind: "error", message: error instanceof Error ? error.message : String(error) };
    }
  }

  /** The normalised origins of `server`, or this script's site. */
  #servers(): string[] {
    const given = (this.getAttribute("server") ?? "").split(/[\s,]+/).filter(Boolean);
    if (given.length === 0) return [SCRIPT_ORIGIN];
    return given.map((value) => {
      const origin = originOf(value, location.href);
      if (origin === "null") throw new Error(`Not connecting: ${value} is not a server's origin (http(s)://host[:port]).`);
      return origin;
    });
  }

  #credentials(): Credentials | undefined {
    const getToken = this.#getToken;
    const tokenUrl = this.getAttribute("token-url");
    const userId = this.getAttribute("user");
    if (this.#token) return { token: this.#token };
    if (getToken) return { token: () => getToken() };
    if (tokenUrl) return { token: () => fetchToken(new URL(tokenUrl, location.href)) };
    if (userId === null || userId === "") return undefined;
    if (!USER_ID_PATTERN.test(userId)) throw new Error(`Not connecting: "${userId}" is not a user id (letters, digits and _ . @ : -).`);
    return { userId };
  }

  #show(setup: Setup): void {
    this.#root.replaceChildren(buildMarkup());
    if (setup.kind === "chat") {
      this.#startChat(setup.servers, setup.credentials);
      return;
    }
    const status = find<HTMLElement>(this.#root, '[data-testid="status"]');
    const label = find<HTMLElement>(this.#root, '[data-testid="status"] > :last-child');
    if (setup.kind === "error") {
      status.dataset.status = "offline";
      label.textContent = "Not connected";
      const line = find<HTMLElement>(this.#root, '[data-testid="error"]');
      line.hidden = false;
      line.textContent = setup.message;
      return;
    }
    status.dataset.status = "unauthorized";
    label.textContent = "Signed out";
    find<HTMLElement>(this.#root, ".gate").hidden = false;
    find<HTMLElement>(this.#root, `[data-gate="${setup.gate}"]`).hidden = false;
    if (setup.gate === "dev") this.#askForUser();
  }

  #startChat(servers: string[], credentials: Credentials): void {
    const session = new AbortController();
    const client = connect(servers, { ...credentials, persist: true });
    this.#session = session;
    this.#client = client;
    const devUser = credentials.userId;
    new ChatView(client, this.#root, {
      signal: session.signal,
      focus: this.#focusNext,
      onUnread: (count) => this.#emit("scrollback-unread", { count }),
      ...(devUser ? { signOut: () => this.#signOut(devUser) } : {}),
    });
    this.#focusNext = false;
  }

  /** The dev-mode sign-in form: sets `user`, which starts the chat. */
  #askForUser(): void {
    const form = find<HTMLFormElement>(this.#root, '[data-gate="dev"]');
    const input = find<HTMLInputElement>(this.#root, "#user-id");
    input.pattern = USER_ID_PATTERN.source;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const userId = input.value.trim();
      if (!USER_ID_PATTERN.test(userId)) return void input.reportValidity();
      this.#focusNext = true;
      this.setAttribute("user", userId);
      this.#emit("scrollback-sign-in", { userId });
    });
  }

  #signOut(userId: string): void {
    // What this user left unsent must not go out later, on this browser, in their name.
    this.#client?.close({ discardOutbox: true });
    this.#client = undefined;
    this.removeAttribute("user");
    this.#emit("scrollback-sign-out", { userId });
  }

  #stop(): void {
    this.#session?.abort();
    this.#session = undefined;
    this.#client?.close();
    this.#client = undefined;
  }

  #emit(type: string, detail: object): void {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }
}

/** Asks a token endpoint, with the page's cookies; it answers `{ "token": "…" }` or the bare token. */
async function fetchToken(url: URL): Promise<string> {
  const response = await fetch(url, { credentials: "include", headers: { accept: "application/json, text/plain" } });
  if (!response.ok) throw new Error(`token endpoint answered ${response.status}`);
  const text = (await response.text()).trim();
  if (!text.startsWith("{")) return text;
  const { token } = JSON.parse(text) as { token?: unknown };
  if (typeof token !== "string") throw new Error("token endpoint answered no token");
  return token;
}
