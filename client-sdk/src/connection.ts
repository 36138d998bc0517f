/**
 * The connection loop: one Socket.IO session at a time, with the SDK's own
 * reconnection (socket.io-client's is off) so that every attempt asks the
 * token function again, tries the next replica after a failure, backs off
 * while nothing works, waits while the browser is offline, and counts as
 * online only once the timeline has caught up.
 */
import { io } from "socket.io-client";
import type { ClientSocket } from "./client-socket.js";
import { isDraftChunk } from "./drafts.js";
import type { Emitter } from "./emitter.js";
import { identityOf } from "./identity.js";
import type { KeyValueStorage, Outbox } from "./outbox.js";
import type { ErrorBody } from "./protocol/errors.js";
import type { Ack } from "./protocol/events.js";
import { closedError, ScrollbackError } from "./scrollback-error.js";
import type { Timeline } from "./timeline.js";
import { anySignal, type BackoffOptions, backoffDelay, sleep } from "./timing.js";
import type { CallOptions, ClientEvents, ConnectionStatus, ConnectOptions } from "./types.js";

export interface ConnectionParts {
  /** Emits `status` and `error`. */
  events: Emitter<ClientEvents>;
  /** Aborts when the client closes. */
  closed: AbortSignal;
  timeline: Timeline;
  /** Bound to the user's storage on first sight; abandoned when the credentials are refused for good. */
  outbox: Outbox;
  /** Persisted messages were restored into the outbox: send them. */
  onRestored: () => void;
  /** The token function now speaks for another user: the client must close. */
  onAnotherUser: () => void;
  ackTimeoutMs: number;
  backoff: BackoffOptions;
}

type SessionEnd = "closed" | "unauthorized" | "lost" | "failed";
type Auth = { token?: string; userId?: string };

const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;
/** A session shorter than this counts as a failure for backoff (a replica that accepts, then drops). */
const STABLE_SESSION_MS = 5_000;

export class Connection {
  readonly #urls: readonly string[];
  readonly #options: ConnectOptions;
  readonly #parts: ConnectionParts;
  #status: ConnectionStatus = "connecting";
  /** The connected socket once catch-up is done; requests and sends wait for it. */
  #ready?: ClientSocket;
  #readyWaiters = new Set<() => void>();
  /** The user the credentials named first ("" when unreadable); undefined before the first attempt. */
  #identity?: string;
  #lastRefusal?: ScrollbackError;
  /** Set when a fixed credential was refused: nothing more can succeed. */
  #refused?: ScrollbackError;
  /** Aborted to cut a reconnect wait short (the browser came back online). */
  #wake = new AbortController();
  readonly #removeWindowListeners: () => void;

  constructor(urls: readonly string[], options: ConnectOptions, parts: ConnectionParts) {
    this.#urls = urls;
    this.#options = options;
    this.#parts = parts;
    this.#removeWindowListeners = this.#listenToNetwork();
    void this.#run();
  }

  get status(): ConnectionStatus {
    return this.#status;
  }

  /** The user the credentials named, as far as known: see `ScrollbackClient.userId`. */
  get identity(): string | undefined {
    return this.#identity || undefined;
  }

  /** The refusal of a fixed credential, once it happened: every later call fails with it. */
  get refused(): ScrollbackError | undefined {
    return this.#refused;
  }

  /** Stops listening to the network, releases everyone waiting for a connection and reports `offline`. */
  close(): void {
    this.#removeWindowListeners();
    this.#wakeWaiters();
    this.#setStatus("offline");
  }

  /** Resolves with the caught-up socket, or undefined once the client is closed (or `signal` aborts). */
  async whenReady(signal?: AbortSignal): Promise<ClientSocket | undefined> {
    while (!this.#ready?.connected) {
      if (this.#parts.closed.aborted || this.#refused || signal?.aborted) return undefined;
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

  /** One request on the caught-up socket, within the caller's time (waiting for a connection included). */
  async request<T>(options: CallOptions, send: (socket: ClientSocket, timeoutMs: number) => Promise<Ack<T>>): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.#options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const socket = await this.whenReady(anySignal(options.signal, timeout));
    if (options.signal?.aborted) throw options.signal.reason;
    if (this.#parts.closed.aborted) throw closedError();
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

  async #run(): Promise<void> {
    const { closed, events, outbox } = this.#parts;
    let failures = 0;
    let urlIndex = 0;
    while (!closed.aborted) {
      if (typeof navigator !== "undefined" && navigator.onLine === false) {
        this.#setStatus("offline");
        await sleep(2 ** 31 - 1, closed, this.#wake.signal);
        this.#wake = new AbortController();
        continue;
      }
      this.#setStatus("connecting");
      let auth: Auth;
      try {
        auth = await this.#credentials();
      } catch (error) {
        events.emit("error", new ScrollbackError("UNAUTHORIZED", `the token function failed: ${describe(error)}`));
        this.#setStatus("unauthorized");
        await this.#pause(failures++);
        continue;
      }
      if (!this.#adoptIdentity(auth)) return;

      const started = Date.now();
      const end = await this.#session(this.#urlFor(urlIndex), auth);
      if (end === "closed") return;
      if (end === "unauthorized") {
        const refusal = this.#lastRefusal ?? new ScrollbackError("UNAUTHORIZED", "the server refused the credentials");
        events.emit("error", refusal);
        this.#setStatus("unauthorized");
        // A fixed credential will be refused again; a token function may do better next time.
        if (typeof this.#options.token !== "function") {
          this.#refused = refusal;
          outbox.abandon(refusal);
          this.#wakeWaiters();
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

  /** The server for attempt `index`: the list is walked round-robin. */
  #urlFor(index: number): string {
    const url = this.#urls[index % this.#urls.length];
    // connect() refuses an empty list, so this only fires on a bug.
    if (url === undefined) throw new TypeError("connect: at least one server URL is needed");
    return url;
  }

  async #credentials(): Promise<Auth> {
    const { token, userId } = this.#options;
    if (token === undefined) {
      // connect() insists on exactly one of the two, so this only fires on a bug.
      if (userId === undefined) throw new TypeError("connect: pass exactly one of `token` (JWT or function) and `userId` (dev mode)");
      return { userId };
    }
    const value = typeof token === "function" ? await token() : token;
    if (typeof value !== "string" || value === "") throw new TypeError("the token function returned no token");
    return { token: value };
  }

  /**
   * Where the user's outbox is persisted, when `persist` is on and the user
   * is known (from the credentials so far, or a fixed credential itself).
   */
  persistedOutbox(): { storage: KeyValueStorage; key: string } | undefined {
    const { persist, userId, token } = this.#options;
    const identity = this.#identity || identityOf(typeof token === "string" ? { token } : { userId });
    const storage = typeof persist === "object" && persist.storage ? persist.storage : globalThis.localStorage;
    if (!persist || !identity || !storage) return undefined;
    const prefix = (typeof persist === "object" && persist.keyPrefix) || "scrollback:outbox";
    return { storage, key: `${prefix}:${identity}` };
  }

  /** Binds the persisted outbox to the user on first sight; refuses to carry one user's messages over to another. */
  #adoptIdentity(auth: Auth): boolean {
    const identity = identityOf(auth);
    if (this.#identity === undefined) {
      this.#identity = identity ?? "";
      const persisted = this.persistedOutbox();
      if (persisted && this.#parts.outbox.persist(persisted.storage, persisted.key) > 0) this.#parts.onRestored();
      return true;
    }
    if (identity === undefined || identity === this.#identity) return true;
    this.#parts.events.emit("error", new ScrollbackError("UNAUTHORIZED", "the token function returned a token for another user; closing"));
    this.#parts.onAnotherUser();
    return false;
  }

  /** One connection attempt and, when it succeeds, the session until it ends. */
  #session(url: string, auth: Auth): Promise<SessionEnd> {
    const { closed, timeline, ackTimeoutMs } = this.#parts;
    return new Promise((resolve) => {
      const socket: ClientSocket = io(url, {
        ...this.#options.socketOptions,
        auth,
        transports: this.#options.transports ?? ["websocket"],
        reconnection: false,
        forceNew: true,
        timeout: ackTimeoutMs,
      });
      let ended = false;
      const end = (how: SessionEnd) => {
        if (ended) return;
        ended = true;
        closed.removeEventListener("abort", onClose);
        if (this.#ready === socket) this.#ready = undefined;
        timeline.endSession();
        socket.removeAllListeners();
        socket.disconnect();
        resolve(how);
      };
      const onClose = () => end("closed");
      closed.addEventListener("abort", onClose, { once: true });

      socket.on("connect", () => {
        // Online means caught up: what is shown is current and sends go out.
        void timeline.catchUp(socket).then((caughtUp) => {
          if (ended || !socket.connected) return;
          if (!caughtUp) return void socket.disconnect();
          this.#ready = socket;
          this.#setStatus("online");
          this.#wakeWaiters();
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
      socket.on("message:new", (message) => timeline.receiveLive(message));
      socket.on("history:cleared", () => timeline.clear());
      // Checked on arrival (drafts.ts): a payload of the wrong shape is ignored, never thrown on.
      socket.on("draft:update", (update: unknown) => {
        if (isDraftChunk(update)) timeline.receiveDraft(update);
      });
      socket.on("draft:discarded", (payload: unknown) => {
        const id = (payload as { id?: unknown } | null)?.id;
        if (typeof id === "string") timeline.receiveDiscarded(id);
      });
      // After auth:expired the server disconnects; the next attempt asks the token function again.
    });
  }

  /** Waits before the next connection attempt, unless the browser comes back online or the client closes. */
  async #pause(failures: number): Promise<void> {
    await sleep(backoffDelay(Math.max(0, failures), this.#parts.backoff), this.#parts.closed, this.#wake.signal);
    if (this.#wake.signal.aborted) this.#wake = new AbortController();
  }

  #wakeWaiters(): void {
    for (const wake of this.#readyWaiters) wake();
  }

  #setStatus(status: ConnectionStatus): void {
    if (this.#status === status) return;
    this.#status = status;
    this.#parts.events.emit("status", status);
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

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
