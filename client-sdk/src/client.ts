/**
 * The scrollback client: one user's live history over Socket.IO, with an
 * outbox that resends every unacknowledged message (same id, in order) until
 * it is stored, and a catch-up after every reconnect.
 */
import { io, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";
import { Emitter } from "./emitter.js";
import { identityOf } from "./identity.js";
import { Outbox, type KeyValueStorage, type OutboxEntry, type PendingMessage } from "./outbox.js";
import type { ErrorBody } from "./protocol/errors.js";
import type {
  Ack,
  ClientToServerEvents,
  Message,
  MessageMeta,
  Role,
  ServerToClientEvents,
} from "./protocol/events.js";
import { createMessageId } from "./protocol/ids.js";
import { ScrollbackError } from "./scrollback-error.js";
import { anySignal, backoffDelay, sleep, type BackoffOptions } from "./timing.js";

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Where the client's connection stands. */
export type ConnectionStatus = "connecting" | "online" | "offline" | "unauthorized";

/** A JWT, or a function that returns a fresh one (called before every connection attempt). */
export type TokenSource = string | (() => string | Promise<string>);

/** Who the client is: a token (or token function), or in dev mode a plain userId; never both. */
export type Credentials = { token: TokenSource; userId?: never } | { userId: string; token?: never };

/** Everything `connect` takes besides the credentials. */
export interface ConnectionOptions {
  /** Socket.IO transports; WebSocket only by default, so no sticky sessions are needed. */
  transports?: ("websocket" | "polling" | "webtransport")[];
  /** How long to wait for a connection, and for each answer, before treating the replica as gone (default 8000). */
  ackTimeoutMs?: number;
  /** How long `load`, `search` and `clear` may take, waiting for a connection included (default 15000). */
  requestTimeoutMs?: number;
  /** Delays between reconnects and between retries of refused sends (default 250 ms doubling to 10 s, jittered). */
  backoff?: Partial<BackoffOptions>;
  /**
   * Keep unsent messages across page reloads: `true` uses `localStorage`.
   * Entries are kept per user (dev userId or the token's `sub`).
   */
  persist?: boolean | { storage?: KeyValueStorage; keyPrefix?: string };
  /** After each (re)connect, load what was missed and emit it (default true). */
  catchUp?: boolean;
  /** Anything else for socket.io-client (`path`, `extraHeaders` in Node…); reconnection stays the SDK's. */
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
}

/**
 * Options of {@link connect}: `token` — the user's JWT (PROTOCOL.md §3) or a
 * function returning one, called on every (re)connect so an expired token is
 * replaced — or, in dev mode (`AUTH_MODE=dev`), `userId`; plus {@link ConnectionOptions}.
 */
export type ConnectOptions = Credentials & ConnectionOptions;

/** What `add` takes: the `message:add` payload, `id` optional. */
export interface AddInput {
  content: string;
  role?: Role;
  meta?: MessageMeta;
  /** The idempotency key; a ULID is assigned when omitted. */
  id?: string;
}

/** How long a caller is willing to wait. */
export interface CallOptions {
  /** Give up when this aborts; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Give up after this long; the promise rejects with a `TIMEOUT` {@link ScrollbackError}. */
  timeoutMs?: number;
}

/** The client's events. */
export interface ClientEvents {
  /** A message this client had not seen, once, in the history's order: live, caught up after a reconnect, or its own once stored. */
  message: (message: Message) => void;
  /** The whole kept window replaces what was shown: on first connect, and after a reconnect that missed too much (`gap`). */
  reset: (messages: Message[]) => void;
  /** The user's history was cleared (here or on another connection). */
  cleared: () => void;
  /** `online` once connected and caught up; `offline` between attempts; `unauthorized` when credentials are refused. */
  status: (status: ConnectionStatus) => void;
  /** A failure no promise reports: a restored message refused, a refused connection, a failed catch-up. */
  error: (error: ScrollbackError) => void;
  /** The outbox changed; `pending` are the messages not yet stored, oldest first. */
  outbox: (pending: PendingMessage[]) => void;
}

const DEFAULT_ACK_TIMEOUT_MS = 8_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;
const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 10_000 };
const SEEN_IDS_KEPT = 2_000;
/** A session shorter than this counts as a failure for backoff (a replica that accepts, then drops). */
const STABLE_SESSION_MS = 5_000;
const MESSAGE_ID = /^[A-Za-z0-9_-]{1,64}$/;

type SessionEnd = "closed" | "unauthorized" | "lost" | "failed";

/**
 * A connection to scrollback for one user. Create it with {@link connect}.
 */
export class ScrollbackClient {
  readonly #urls: readonly string[];
  readonly #options: ConnectOptions;
  readonly #ackTimeoutMs: number;
  readonly #backoff: BackoffOptions;
  readonly #events = new Emitter<ClientEvents>();
  readonly #closed = new AbortController();
  readonly #outbox = new Outbox(() => this.#events.emit("outbox", this.#outbox.list()));
  readonly #seen = new Set<string>();
  #status: ConnectionStatus = "connecting";
  /** The connected socket once catch-up is done; requests and sends wait for it. */
  #ready?: ClientSocket;
  #readyWaiters = new Set<() => void>();
  #lastSeenId?: string;
  /** Live messages held back while a catch-up runs, so everything is emitted in order. */
  #heldBack?: Message[];
  #flushing = false;
  #identity?: string;
  #lastRefusal?: ScrollbackError;
  /** Set when a fixed credential was refused: nothing more can succeed. */
  #refused?: ScrollbackError;
  /** Aborted to cut a reconnect wait short (the browser came back online). */
  #wake = new AbortController();
  readonly #removeWindowListeners: () => void;

  /** @internal Use {@link connect}. */
  constructor(url: string | readonly string[], options: ConnectOptions) {
    this.#urls = typeof url === "string" ? [url] : [...url];
    if (this.#urls.length === 0) throw new TypeError("connect: at least one server URL is needed");
    if ((options.token === undefined) === (options.userId === undefined)) {
      throw new TypeError("connect: pass exactly one of `token` (JWT or function) and `userId` (dev mode)");
    }
    this.#options = options;
    this.#ackTimeoutMs = options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
    this.#backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.#removeWindowListeners = this.#listenToNetwork();
    void this.#run();
  }

  /** The current connection status. */
  get status(): ConnectionStatus {
    return this.#status;
  }

  /**
   * The user this client speaks for, as its credentials say: the dev-mode
   * userId, or the token's `sub` (read, not verified: the server verifies).
   * Undefined until a token function first answered.
   */
  get userId(): string | undefined {
    const { userId, token } = this.#options;
    return userId ?? (this.#identity || undefined) ?? (typeof token === "string" ? identityOf({ token }) : undefined);
  }

  /** Messages added but not yet stored, oldest first. */
  get pending(): PendingMessage[] {
    return this.#outbox.list();
  }

  /**
   * Listens to a client event; returns the function that stops listening.
   * @example
   * client.on("message", (message) => render(message));
   * client.on("status", (status) => (badge.textContent = status));
   */
  on<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): () => void {
    return this.#events.on(event, listener);
  }

  /**
   * Stores a message. It waits in the outbox, survives reconnects and
   * `UNAVAILABLE`/`RATE_LIMITED` answers, and is resent with the same id until
   * the server acknowledges it, so it is stored exactly once.
   * Resolves with the stored message; rejects with a {@link ScrollbackError}
   * when the server refuses it for good (`INVALID_PAYLOAD`, `TOO_LARGE`…), on
   * `timeoutMs`, or with the signal's reason when `signal` aborts. A message
   * already sent when the caller gives up may still be stored.
   * @example
   * const message = await client.add({ content: "hello" });
   */
  add(input: AddInput, options: CallOptions = {}): Promise<Message> {
    const id = input.id ?? createMessageId();
    const invalid =
      typeof input.content !== "string" || input.content.length === 0
        ? "content: must be a non-empty string"
        : !MESSAGE_ID.test(id)
          ? "id: must be 1-64 of A-Z a-z 0-9 _ -"
          : undefined;
    if (invalid) return Promise.reject(new ScrollbackError("INVALID_PAYLOAD", invalid, { messageId: id }));
    if (this.#closed.signal.aborted) return Promise.reject(closedError());
    if (this.#refused) return Promise.reject(this.#refused);

    const message: PendingMessage = { id, content: input.content };
    if (input.role !== undefined) message.role = input.role;
    if (input.meta !== undefined) message.meta = input.meta;
    const timeout = options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs);
    const signal = anySignal(options.signal, timeout);
    return new Promise<Message>((resolve, reject) => {
      if (signal?.aborted) return reject(giveUpReason(options.signal, id));
      const onAbort = () => {
        if (this.#outbox.remove(id)) reject(giveUpReason(options.signal, id));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      const settled = () => signal?.removeEventListener("abort", onAbort);
      this.#outbox.push({
        message,
        waiter: {
          resolve: (stored) => (settled(), resolve(stored)),
          reject: (error) => (settled(), reject(error)),
        },
      });
      void this.#flush();
    });
  }

  /**
   * Loads the kept history, oldest first (`history:load`).
   * @example
   * const { messages } = await client.load({ limit: 50 });
   */
  async load(query: { limit?: number; afterId?: string } = {}, options: CallOptions = {}): Promise<{ messages: Message[]; gap: boolean }> {
    const answer = await this.#request(options, (socket, ms) => socket.timeout(ms).emitWithAck("history:load", query));
    return { messages: answer.messages, gap: answer.gap };
  }

  /**
   * Finds kept messages whose content contains `query` (case-insensitive), oldest first.
   * @example
   * const hits = await client.search("invoice", { role: "assistant" });
   */
  async search(query: string, filters: { role?: Role; limit?: number } = {}, options: CallOptions = {}): Promise<Message[]> {
    const answer = await this.#request(options, (socket, ms) => socket.timeout(ms).emitWithAck("history:search", { query, ...filters }));
    return answer.messages;
  }

  /**
   * Deletes the user's history; resolves with how many messages were removed.
   * Emits `cleared` here as on the user's other connections.
   * @example
   * await client.clear();
   */
  async clear(options: CallOptions = {}): Promise<number> {
    const answer = await this.#request(options, (socket, ms) => socket.timeout(ms).emitWithAck("history:clear", {}));
    this.#onCleared();
    return answer.removed;
  }

  /**
   * Disconnects for good. Waiting `add`s reject with `CLOSED`; a persisted
   * outbox keeps them for the next page.
   */
  close(): void {
    if (this.#closed.signal.aborted) return;
    this.#closed.abort();
    this.#removeWindowListeners();
    this.#outbox.abandon(closedError());
    for (const wake of this.#readyWaiters) wake();
    this.#setStatus("offline");
    this.#events.clear();
  }

  // --- connection --------------------------------------------------------

  async #run(): Promise<void> {
    let failures = 0;
    let urlIndex = 0;
    while (!this.#closed.signal.aborted) {
      if (typeof navigator !== "undefined" && navigator.onLine === false) {
        this.#setStatus("offline");
        await sleep(2 ** 31 - 1, this.#closed.signal, this.#wake.signal);
        this.#wake = new AbortController();
        continue;
      }
      this.#setStatus("connecting");
      let auth: { token?: string; userId?: string };
      try {
        auth = await this.#credentials();
      } catch (error) {
        this.#events.emit("error", new ScrollbackError("UNAUTHORIZED", `the token function failed: ${describe(error)}`));
        this.#setStatus("unauthorized");
        await this.#pause(failures++);
        continue;
      }
      if (!this.#adoptIdentity(auth)) return;

      const started = Date.now();
      const end = await this.#session(this.#urls[urlIndex % this.#urls.length]!, auth);
      if (end === "closed") return;
      if (end === "unauthorized") {
        const refusal = this.#lastRefusal ?? new ScrollbackError("UNAUTHORIZED", "the server refused the credentials");
        this.#events.emit("error", refusal);
        this.#setStatus("unauthorized");
        // A fixed credential will be refused again; a token function may do better next time.
        if (typeof this.#options.token !== "function") {
          this.#refused = refusal;
          this.#outbox.abandon(refusal);
          for (const wake of this.#readyWaiters) wake();
          return;
        }
        await this.#pause(failures++);
        continue;
      }
      // The replica failed us: try the next one, backing off while nothing works.
      failures = end === "lost" && Date.now() - started > STABLE_SESSION_MS ? 0 : failures + 1;
      urlIndex++;
      this.#setStatus("offline");
      await this.#pause(failures - 1);
    }
  }

  async #credentials(): Promise<{ token?: string; userId?: string }> {
    const { token, userId } = this.#options;
    if (token === undefined) return { userId: userId! };
    const value = typeof token === "function" ? await token() : token;
    if (typeof value !== "string" || value === "") throw new TypeError("the token function returned no token");
    return { token: value };
  }

  /** Binds the persisted outbox to the user on first sight; refuses to carry one user's messages over to another. */
  #adoptIdentity(auth: { token?: string; userId?: string }): boolean {
    const identity = identityOf(auth);
    if (this.#identity === undefined) {
      this.#identity = identity ?? "";
      const persist = this.#options.persist;
      const storage = typeof persist === "object" && persist.storage ? persist.storage : globalThis.localStorage;
      if (persist && identity && storage) {
        const prefix = (typeof persist === "object" && persist.keyPrefix) || "scrollback:outbox";
        if (this.#outbox.persist(storage, `${prefix}:${identity}`) > 0) void this.#flush();
      }
      return true;
    }
    if (identity === undefined || identity === this.#identity) return true;
    this.#events.emit("error", new ScrollbackError("UNAUTHORIZED", "the token function returned a token for another user; closing"));
    this.close();
    return false;
  }

  /** One connection attempt and, when it succeeds, the session until it ends. */
  #session(url: string, auth: { token?: string; userId?: string }): Promise<SessionEnd> {
    return new Promise((resolve) => {
      const socket: ClientSocket = io(url, {
        ...this.#options.socketOptions,
        auth,
        transports: this.#options.transports ?? ["websocket"],
        reconnection: false,
        forceNew: true,
        timeout: this.#ackTimeoutMs,
      });
      let ended = false;
      const end = (how: SessionEnd) => {
        if (ended) return;
        ended = true;
        this.#closed.signal.removeEventListener("abort", onClose);
        if (this.#ready === socket) this.#ready = undefined;
        this.#heldBack = undefined;
        socket.removeAllListeners();
        socket.disconnect();
        resolve(how);
      };
      const onClose = () => end("closed");
      this.#closed.signal.addEventListener("abort", onClose, { once: true });

      socket.on("connect", () => {
        // Online means caught up: what is shown is current and sends go out.
        void this.#catchUp(socket).then((caughtUp) => {
          if (ended || !socket.connected) return;
          if (!caughtUp) return void socket.disconnect();
          this.#ready = socket;
          this.#setStatus("online");
          for (const wake of this.#readyWaiters) wake();
        });
      });
      socket.on("connect_error", (error) => {
        const data = (error as Error & { data?: Partial<ErrorBody> }).data;
        if ((data?.code ?? error.message) === "UNAUTHORIZED") {
          this.#lastRefusal = new ScrollbackError("UNAUTHORIZED", data?.message ?? "unauthorized");
          end("unauthorized");
        } else end("failed");
      });
      socket.on("disconnect", () => end("lost"));
      socket.on("message:new", (message) => (this.#heldBack ? this.#heldBack.push(message) : this.#receive(message)));
      socket.on("history:cleared", () => this.#onCleared());
      // After auth:expired the server disconnects; the next attempt asks the token function again.
    });
  }

  /**
   * Loads what was missed since the last message seen (or the whole window on
   * first connect, or after a gap), then releases the live messages held back
   * meanwhile. Resolves false when the connection should be dropped.
   */
  async #catchUp(socket: ClientSocket): Promise<boolean> {
    if (this.#options.catchUp === false) return true;
    this.#heldBack = [];
    let failures = 0;
    while (socket.connected && !this.#closed.signal.aborted) {
      const afterId = this.#lastSeenId;
      let answer;
      try {
        answer = await socket.timeout(this.#ackTimeoutMs).emitWithAck("history:load", afterId === undefined ? {} : { afterId });
      } catch {
        return false;
      }
      if (answer.ok) {
        if (afterId === undefined || answer.gap) this.#reset(answer.messages);
        else for (const message of answer.messages) this.#receive(message);
        this.#releaseHeldBack();
        return true;
      }
      const error = ScrollbackError.fromBody(answer.error);
      if (!error.retryable) {
        // Not worth dropping the connection over: sends still work; say so and go on live.
        this.#events.emit("error", error);
        this.#releaseHeldBack();
        return true;
      }
      await sleep(this.#retryDelay(error, failures++), this.#closed.signal);
    }
    return false;
  }

  #releaseHeldBack(): void {
    const held = this.#heldBack ?? [];
    this.#heldBack = undefined;
    for (const message of held) this.#receive(message);
  }

  // --- outbox ------------------------------------------------------------

  /** Sends the outbox's head until it is empty; one runner at a time keeps the order. */
  async #flush(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    let failures = 0;
    try {
      for (let entry = this.#outbox.head(); entry; entry = this.#outbox.head()) {
        const socket = await this.#whenReady();
        if (!socket) return;
        if (this.#outbox.head() !== entry) continue;
        const answer = await this.#send(socket, entry);
        if (answer === undefined) {
          // No answer in time: a replica that froze looks exactly like this. Drop it; the
          // next connection (maybe to another replica) resends the same id.
          socket.disconnect();
          continue;
        }
        if (answer.ok) {
          failures = 0;
          this.#receive(answer.message);
          this.#outbox.remove(entry.message.id)?.waiter?.resolve(answer.message);
          continue;
        }
        const error = ScrollbackError.fromBody(answer.error, entry.message.id);
        if (error.retryable) {
          await sleep(this.#retryDelay(error, failures++), this.#closed.signal);
          continue;
        }
        const refused = this.#outbox.remove(entry.message.id);
        if (refused?.waiter) refused.waiter.reject(error);
        else if (refused) this.#events.emit("error", error);
      }
    } finally {
      this.#flushing = false;
    }
  }

  async #send(socket: ClientSocket, entry: OutboxEntry) {
    try {
      return await socket.timeout(this.#ackTimeoutMs).emitWithAck("message:add", entry.message);
    } catch {
      return undefined;
    }
  }

  /** Resolves with the caught-up socket, or undefined once the client is closed (or `signal` aborts). */
  async #whenReady(signal?: AbortSignal): Promise<ClientSocket | undefined> {
    while (!this.#ready?.connected) {
      if (this.#closed.signal.aborted || this.#refused || signal?.aborted) return undefined;
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#readyWaiters.delete(wake);
          signal?.removeEventListener("abort", wake);
          resolve();
        };
        this.#readyWaiters.add(wake);
        signal?.addEventListener("abort", wake, { once: true });
      });
    }
    return this.#ready;
  }

  #retryDelay(error: ScrollbackError, failures: number): number {
    const backoff = backoffDelay(failures, this.#backoff);
    return error.retryAfterMs === undefined ? backoff : Math.max(error.retryAfterMs, Math.min(backoff, error.retryAfterMs * 2));
  }

  /** Waits before the next connection attempt, unless the browser comes back online or the client closes. */
  async #pause(failures: number): Promise<void> {
    await sleep(backoffDelay(Math.max(0, failures), this.#backoff), this.#closed.signal, this.#wake.signal);
    if (this.#wake.signal.aborted) this.#wake = new AbortController();
  }

  // --- requests ----------------------------------------------------------

  async #request<T>(options: CallOptions, send: (socket: ClientSocket, timeoutMs: number) => Promise<Ack<T>>): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.#options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const socket = await this.#whenReady(anySignal(options.signal, timeout));
    if (options.signal?.aborted) throw options.signal.reason;
    if (this.#closed.signal.aborted) throw closedError();
    if (this.#refused) throw this.#refused;
    if (!socket) throw new ScrollbackError("TIMEOUT", `not connected within ${timeoutMs} ms`);
    let answer: Ack<T>;
    try {
      answer = await send(socket, Math.max(1, deadline - Date.now()));
    } catch {
      throw new ScrollbackError("TIMEOUT", `no answer within ${timeoutMs} ms`);
    }
    if (!answer.ok) throw ScrollbackError.fromBody(answer.error);
    return answer;
  }

  // --- what the client has seen ------------------------------------------

  #receive(message: Message): void {
    if (this.#seen.has(message.id)) return;
    this.#remember(message.id);
    this.#lastSeenId = message.id;
    this.#events.emit("message", message);
  }

  #reset(messages: Message[]): void {
    this.#seen.clear();
    for (const message of messages) this.#remember(message.id);
    this.#lastSeenId = messages.at(-1)?.id;
    this.#events.emit("reset", messages);
  }

  #onCleared(): void {
    this.#seen.clear();
    this.#lastSeenId = undefined;
    this.#events.emit("cleared");
  }

  #remember(id: string): void {
    this.#seen.add(id);
    if (this.#seen.size > SEEN_IDS_KEPT) this.#seen.delete(this.#seen.values().next().value!);
  }

  #setStatus(status: ConnectionStatus): void {
    if (this.#status === status) return;
    this.#status = status;
    this.#events.emit("status", status);
  }

  /** In browsers: drop the connection when the network goes, reconnect at once when it returns. */
  #listenToNetwork(): () => void {
    const target = typeof window !== "undefined" && typeof window.addEventListener === "function" ? window : undefined;
    if (!target) return () => {};
    const online = () => this.#wake.abort();
    const offline = () => this.#ready?.disconnect();
    target.addEventListener("online", online);
    target.addEventListener("offline", offline);
    return () => {
      target.removeEventListener("online", online);
      target.removeEventListener("offline", offline);
    };
  }
}

/**
 * Connects to scrollback. Returns at once; the client connects (and
 * reconnects) in the background, trying each of `url`'s servers in turn.
 * @example
 * import { connect } from "@scrollback/client";
 * const client = connect("https://chat.example.com", { token: () => fetchToken() });
 * client.on("message", (message) => console.log(message.content));
 * await client.add({ content: "hello" });
 */
export function connect(url: string | readonly string[], options: ConnectOptions): ScrollbackClient {
  return new ScrollbackClient(url, options);
}

function closedError(): ScrollbackError {
  return new ScrollbackError("CLOSED", "the client was closed");
}

function giveUpReason(signal: AbortSignal | undefined, messageId: string): unknown {
  return signal?.aborted ? signal.reason : new ScrollbackError("TIMEOUT", "not stored in time", { messageId });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
