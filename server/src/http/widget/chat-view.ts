/**
 * The chat view: renders the client's history (stored messages, then the
 * replies being streamed, then the outbox), its status and errors, and sends
 * what is typed.
 *
 * A streamed reply (a draft) is a message bubble that grows as chunks
 * arrive, with a typing indicator and `aria-busy` so the log's live region
 * announces the finished message rather than every chunk; its stored
 * message takes over the same node.
 */
import {
  type ConnectionStatus,
  type LiveDraft,
  type Message,
  type PendingMessage,
  type ScrollbackClient,
  ScrollbackError,
} from "@scrollback/client";
import { element, find, icon, typingIndicator } from "./dom.js";

/** Messages kept on screen; the server keeps its own window. */
const SHOWN_MAX = 500;

const STATUS_LABELS: Record<ConnectionStatus, string> = {
  connecting: "Connecting…",
  online: "Online",
  offline: "Offline",
  unauthorized: "Signed out",
};

export interface ChatViewOptions {
  /** Given for a dev-mode user, who may sign in as someone else; a token's user cannot. */
  signOut?: () => void;
  /** Told how many messages arrived while the page was hidden (0 once it is seen again). */
  onUnread?: (count: number) => void;
  /** Focus the composer at once (after the visitor signed in here); an embedded widget must not steal focus on load. */
  focus?: boolean;
  /** Ends the view's listeners on the document. */
  signal: AbortSignal;
}

/** Renders the client's history, outbox and status into the widget's markup under `root`, and sends what is typed. */
export class ChatView {
  readonly #client: ScrollbackClient;
  readonly #root: ParentNode;
  readonly #options: ChatViewOptions;
  readonly #log: HTMLElement;
  readonly #list: HTMLOListElement;
  readonly #empty: HTMLElement;
  readonly #status: HTMLElement;
  readonly #statusLabel: HTMLElement;
  readonly #error: HTMLElement;
  readonly #composer: HTMLTextAreaElement;
  readonly #send: HTMLButtonElement;
  readonly #nodes = new Map<string, HTMLElement>();
  #stored: Message[] = [];
  #pending: PendingMessage[] = [];
  /** The replies being streamed, by id, in the order they started. */
  #drafts = new Map<string, LiveDraft>();
  #unread = 0;
  readonly #time = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  readonly #day = new Intl.DateTimeFormat(undefined, { weekday: "long", month: "short", day: "numeric" });

  constructor(client: ScrollbackClient, root: ParentNode, options: ChatViewOptions) {
    this.#client = client;
    this.#root = root;
    this.#options = options;
    this.#log = find(root, ".log");
    this.#list = find(root, ".messages");
    this.#empty = find(root, ".empty");
    this.#status = find(root, '[data-testid="status"]');
    this.#statusLabel = find(root, '[data-testid="status"] > :last-child');
    this.#error = find(root, '[data-testid="error"]');
    this.#composer = find(root, '[data-testid="composer"]');
    this.#send = find(root, '[data-testid="send"]');
    this.#pending = client.pending;
    client.on("reset", (messages) => {
      this.#stored = messages.slice(-SHOWN_MAX);
      this.#render(true);
    });
    client.on("message", (message) => {
      this.#stored = [...this.#stored, message].slice(-SHOWN_MAX);
      if (document.hidden && !this.#pending.some((pending) => pending.id === message.id)) this.#countUnread();
      this.#render();
    });
    client.on("cleared", () => {
      this.#stored = [];
      this.#render();
    });
    client.on("outbox", (pending) => {
      this.#pending = pending;
      this.#render();
    });
    client.on("draft", (draft) => {
      this.#drafts.set(draft.id, draft);
      this.#render();
    });
    client.on("draftEnd", (id) => {
      if (this.#drafts.delete(id)) this.#render();
    });
    client.on("status", (status) => this.#showStatus(status));
    client.on("error", (error) => this.#showError(describeError(error)));
    this.#showStatus(client.status);
    this.#wireUser(options.signOut);
    this.#wireComposer();
    this.#render(true);
    document.addEventListener(
      "visibilitychange",
      () => {
        if (!document.hidden) this.#countUnread(0);
      },
      { signal: options.signal },
    );
  }

  #wireComposer(): void {
    const composer = this.#composer;
    const resize = () => {
      composer.style.height = "auto";
      composer.style.height = `${Math.min(composer.scrollHeight, 160)}px`;
      this.#send.disabled = composer.value.trim() === "";
    };
    composer.disabled = false;
    composer.addEventListener("input", resize);
    composer.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        composer.form?.requestSubmit();
      }
    });
    composer.form?.addEventListener("submit", (event) => {
      event.preventDefault();
      const content = composer.value.trim();
      if (content === "") return;
      composer.value = "";
      resize();
      this.#client.add({ content }).then(
        () => this.#showError(undefined),
        (error: unknown) => {
          this.#showError(`Not sent: ${describeError(error)}`);
          // Give the words back, unless something new was typed meanwhile.
          if (composer.value === "") {
            composer.value = content;
            resize();
          }
        },
      );
      this.#scrollToEnd();
    });
    find<HTMLButtonElement>(this.#root, '[data-action="clear"]').addEventListener("click", () => {
      if (!confirm("Clear your history? This removes it for every tab and device.")) return;
      this.#client.clear().catch((error: unknown) => this.#showError(`Not cleared: ${describeError(error)}`));
    });
    resize();
    if (this.#options.focus) composer.focus();
  }

  /** Shows who is signed in; a token function's user is known once it answered, so this runs on every status change too. */
  #showUser(): void {
    const chip = find<HTMLButtonElement>(this.#root, '[data-testid="user"]');
    const userId = this.#client.userId ?? "";
    if (chip.dataset.userId === userId && !chip.hidden) return;
    chip.dataset.userId = userId;
    chip.replaceChildren(element("span", "avatar", initials(userId)), element("span", "name", userId || "signed in"));
    chip.hidden = false;
  }

  #wireUser(signOut: (() => void) | undefined): void {
    const chip = find<HTMLButtonElement>(this.#root, '[data-testid="user"]');
    find<HTMLElement>(this.#root, '[data-action="clear"]').hidden = false;
    this.#showUser();
    if (!signOut) {
      chip.disabled = true;
      chip.title = "Signed in with a token";
      return;
    }
    chip.addEventListener("click", () => {
      signOut();
    });
  }

  #showStatus(status: ConnectionStatus): void {
    if (this.#status.dataset.status !== status) this.#showUser();
    this.#status.dataset.status = status;
    this.#statusLabel.textContent = STATUS_LABELS[status];
    this.#render();
  }

  #showError(text: string | undefined): void {
    this.#error.hidden = text === undefined;
    this.#error.textContent = text ?? "";
  }

  #countUnread(count = this.#unread + 1): void {
    if (count === this.#unread) return;
    this.#unread = count;
    this.#options.onUnread?.(count);
  }

  /** Stored messages, then the drafts, then the outbox, oldest first; DOM nodes are reused by key. */
  #render(jump = false): void {
    const stickToEnd = jump || this.#log.scrollHeight - this.#log.scrollTop - this.#log.clientHeight < 120;
    const storedIds = new Set(this.#stored.map((message) => message.id));
    const waiting = this.#pending.filter((message) => !storedIds.has(message.id));
    const wanted: HTMLElement[] = [];
    let lastDay = "";
    for (const message of this.#stored) {
      const time = readTimestamp(message.timestamp);
      const day = time ? this.#day.format(time) : lastDay;
      if (day && day !== lastDay) wanted.push(this.#node(`day:${day}`, () => element("li", "day", dayLabel(day, this.#day))));
      lastDay = day;
      wanted.push(this.#messageNode(message, "stored"));
    }
    for (const draft of this.#drafts.values()) {
      // Its message is shown: that node (the same one) is the reply now.
      if (!storedIds.has(draft.id)) wanted.push(this.#messageNode({ ...draft, timestamp: null }, "draft"));
    }
    for (const message of waiting) wanted.push(this.#messageNode({ ...message, role: message.role ?? "user", timestamp: null }, "pending"));

    const keep = new Set(wanted);
    for (const [key, node] of this.#nodes) {
      if (!keep.has(node)) {
        node.remove();
        this.#nodes.delete(key);
      }
    }
    wanted.forEach((node, index) => {
      if (this.#list.children[index] !== node) this.#list.insertBefore(node, this.#list.children[index] ?? null);
    });
    this.#empty.hidden = wanted.length > 0;
    if (stickToEnd) this.#scrollToEnd(jump);
  }

  #messageNode(message: Pick<Message, "id" | "role" | "content" | "timestamp">, state: "stored" | "pending" | "draft"): HTMLElement {
    const node = this.#node(`message:${message.id}`, () => {
      const item = element("li", "msg");
      item.dataset.testid = "message";
      item.dataset.id = message.id;
      item.dataset.role = message.role;
      item.append(element("div", "bubble", message.content), element("div", "meta"));
      return item;
    });
    // A draft grows; its stored message may differ from its last chunk.
    const bubble = node.firstElementChild as HTMLElement;
    if (bubble.textContent !== message.content) bubble.textContent = message.content;
    const signature = `${state}|${this.#client.status}|${message.timestamp}`;
    if (node.dataset.signature !== signature) {
      node.dataset.signature = signature;
      node.dataset.state = state;
      const meta = node.lastElementChild as HTMLElement;
      // Busy while it grows: screen readers announce the reply once, when it is stored.
      if (state === "draft") node.setAttribute("aria-busy", "true");
      else node.removeAttribute("aria-busy");
      if (state === "draft") {
        meta.replaceChildren(typingIndicator());
      } else if (state === "pending") {
        meta.replaceChildren(
          icon("clock"),
          document.createTextNode(this.#client.status === "online" ? "Sending…" : "Waiting for connection — kept until sent"),
        );
      } else {
        const time = document.createElement("time");
        const written = readTimestamp(message.timestamp);
        if (written && message.timestamp) {
          time.dateTime = message.timestamp;
          time.title = written.toLocaleString();
          time.textContent = this.#time.format(written);
        }
        meta.replaceChildren(time, ...(message.role === "user" ? [icon("check")] : []));
      }
    }
    return node;
  }

  #node(key: string, create: () => HTMLElement): HTMLElement {
    let node = this.#nodes.get(key);
    if (!node) {
      node = create();
      this.#nodes.set(key, node);
    }
    return node;
  }

  #scrollToEnd(instant = false): void {
    requestAnimationFrame(() => this.#log.scrollTo({ top: this.#log.scrollHeight, behavior: instant ? "instant" : "smooth" }));
  }
}

/**
 * The moment a timestamp names; undefined when there is none or it does not
 * parse. Other programs write the history too (PROTOCOL.md §2) and their
 * timestamps are passed through as written ("yesterday", "2024-13-45"), and
 * formatting an invalid Date throws a RangeError that would stop every later
 * render: such a message is shown without a time.
 */
function readTimestamp(timestamp: string | null): Date | undefined {
  if (!timestamp) return undefined;
  const date = new Date(timestamp);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function initials(userId: string): string {
  const letters = userId
    .replace(/[^A-Za-z0-9]+/g, " ")
    .trim()
    .split(" ")
    .map((part) => part[0] ?? "");
  const [first, second] = letters;
  return (first !== undefined && second !== undefined ? first + second : userId.slice(0, 2) || "?").toUpperCase();
}

function dayLabel(day: string, format: Intl.DateTimeFormat): string {
  const today = format.format(new Date());
  const yesterday = format.format(new Date(Date.now() - 86_400_000));
  return day === today ? "Today" : day === yesterday ? "Yesterday" : day;
}

function describeError(error: unknown): string {
  if (error instanceof ScrollbackError) {
    const reasons: Partial<Record<string, string>> = {
      TOO_LARGE: "the message is too long",
      INVALID_PAYLOAD: "the message was refused",
      UNAUTHORIZED: "you are signed out",
    };
    return `${reasons[error.code] ?? error.message} (${error.code}${error.code === "UNAUTHORIZED" ? `: ${error.message}` : ""})`;
  }
  return error instanceof Error ? error.message : String(error);
}
