/**
 * The chat view: renders the client's history (stored messages, then the
 * outbox), its status and errors, and sends what is typed.
 */
import type { ConnectionStatus, Message, PendingMessage, ScrollbackClient } from "@scrollback/client";
import { $, element, icon } from "./dom.js";

/** Messages kept on screen; the server keeps its own window. */
const SHOWN_MAX = 500;

const STATUS_LABELS: Record<ConnectionStatus, string> = {
  connecting: "Connecting…",
  online: "Online",
  offline: "Offline",
  unauthorized: "Signed out",
};

/** Renders the client's history, outbox and status, and sends what is typed. */
export class ChatView {
  readonly #client: ScrollbackClient;
  readonly #log = $<HTMLElement>(".log");
  readonly #list = $<HTMLOListElement>(".messages");
  readonly #empty = $<HTMLElement>(".empty");
  readonly #status = $<HTMLElement>('[data-testid="status"]');
  readonly #statusLabel = $<HTMLElement>('[data-testid="status"] > :last-child');
  readonly #error = $<HTMLElement>('[data-testid="error"]');
  readonly #composer = $<HTMLTextAreaElement>('[data-testid="composer"]');
  readonly #send = $<HTMLButtonElement>('[data-testid="send"]');
  readonly #nodes = new Map<string, HTMLElement>();
  #stored: Message[] = [];
  #pending: PendingMessage[] = [];
  #unread = 0;
  readonly #time = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  readonly #day = new Intl.DateTimeFormat(undefined, { weekday: "long", month: "short", day: "numeric" });

  /** `signOut` is given for a dev-mode user, who may sign in as someone else; a token's user cannot. */
  constructor(client: ScrollbackClient, signOut?: () => void) {
    this.#client = client;
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
    client.on("status", (status) => this.#showStatus(status));
    client.on("error", (error) => this.#showError(describeError(error)));
    this.#showStatus(client.status);
    this.#wireUser(signOut);
    this.#wireComposer();
    this.#render(true);
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this.#countUnread(0);
    });
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
    $<HTMLButtonElement>('[data-action="clear"]').addEventListener("click", () => {
      if (!confirm("Clear your history? This removes it for every tab and device.")) return;
      this.#client.clear().catch((error: unknown) => this.#showError(`Not cleared: ${describeError(error)}`));
    });
    resize();
    composer.focus();
  }

  /** Shows who is signed in; a token function's user is known once it answered, so this runs on every status change too. */
  #showUser(): void {
    const chip = $<HTMLButtonElement>('[data-testid="user"]');
    const userId = this.#client.userId ?? "";
    if (chip.dataset.userId === userId && !chip.hidden) return;
    chip.dataset.userId = userId;
    chip.replaceChildren(element("span", "avatar", initials(userId)), element("span", "name", userId || "signed in"));
    chip.hidden = false;
  }

  #wireUser(signOut: (() => void) | undefined): void {
    const chip = $<HTMLButtonElement>('[data-testid="user"]');
    $<HTMLElement>('[data-action="clear"]').hidden = false;
    this.#showUser();
    if (!signOut) {
      chip.disabled = true;
      chip.title = "Signed in with a token";
      return;
    }
    chip.addEventListener("click", () => {
      // What this user left unsent must not go out later, on this browser, in their name.
      this.#client.close({ discardOutbox: true });
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
    this.#unread = count;
    document.title = count > 0 ? `(${count}) scrollback` : "scrollback";
  }

  /** Stored messages, then the outbox, oldest first; DOM nodes are reused by key. */
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

  #messageNode(message: Pick<Message, "id" | "role" | "content" | "timestamp">, state: "stored" | "pending"): HTMLElement {
    const node = this.#node(`message:${message.id}`, () => {
      const item = element("li", "msg");
      item.dataset.testid = "message";
      item.dataset.id = message.id;
      item.dataset.role = message.role;
      item.append(element("div", "bubble", message.content), element("div", "meta"));
      return item;
    });
    const signature = `${state}|${this.#client.status}|${message.timestamp}`;
    if (node.dataset.signature !== signature) {
      node.dataset.signature = signature;
      node.dataset.state = state;
      const meta = node.lastElementChild as HTMLElement;
      if (state === "pending") {
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
  if (error instanceof window.Scrollback.ScrollbackError) {
    const reasons: Partial<Record<string, string>> = {
      TOO_LARGE: "the message is too long",
      INVALID_PAYLOAD: "the message was refused",
      UNAUTHORIZED: "you are signed out",
    };
    return `${reasons[error.code] ?? error.message} (${error.code}${error.code === "UNAUTHORIZED" ? `: ${error.message}` : ""})`;
  }
  return error instanceof Error ? error.message : String(error);
}
