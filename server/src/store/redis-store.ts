/**
 * The Redis list store: one list per user (PROTOCOL.md §2), written by one Lua
 * script per add, so every add is exactly one round trip and atomic across
 * any number of replicas.
 */
import { readFileSync } from "node:fs";
import type { Cluster, Redis, Result } from "ioredis";
import type { Message } from "@scrollback/client/protocol";
import { AppError, internal, unavailable } from "../errors.js";
import { decodeElement, decodeElements, encodeElement } from "./message-codec.js";
import { searchWindow, selectWindow } from "./history-window.js";
import { messagesKey } from "./redis-keys.js";
import { StallGuard } from "./stall-guard.js";
import { STORE_DEADLINE_MS, type AppendOptions, type AppendResult, type ClearOptions, type ClearResult, type LoadOptions, type LoadResult, type NewMessage, type SearchOptions, type Store, type StoreSettings } from "./store.js";

declare module "ioredis" {
  interface RedisCommander<Context> {
    /** lua/appendMessage.lua: 0 when stored, the kept element on a duplicate. */
    appendMessage(
      key: string,
      element: string,
      dedupeId: string,
      max: number,
      ttlSeconds: number,
      channel?: string,
      payload?: string,
    ): Result<0 | string, Context>;
    /** lua/clearHistory.lua: how many elements were deleted. */
    clearHistory(key: string, channel?: string, payload?: string): Result<number, Context>;
  }
}

const LUA_COMMANDS = ["appendMessage", "clearHistory"] as const;

/** Registers the Lua commands on a client (idempotent). Exported for tools that write the same way. */
export function defineScrollbackCommands(client: Redis | Cluster): void {
  for (const name of LUA_COMMANDS) {
    if (typeof (client as unknown as Record<string, unknown>)[name] === "function") continue;
    const lua = readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), "utf8");
    client.defineCommand(name, { numberOfKeys: 1, lua });
  }
}

// Server replies that mean "Redis cannot serve this right now", as opposed to
// a bug or a wrong key type.
const TRANSIENT_REPLY = /^(LOADING|BUSY|CLUSTERDOWN|TRYAGAIN|READONLY|MASTERDOWN|NOREPLICAS|MOVED|ASK)\b/;

/** Turns an ioredis failure into UNAVAILABLE (connection trouble) or INTERNAL (anything else). */
function toStoreError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const replyError = error instanceof Error && error.name === "ReplyError";
  if (replyError && !TRANSIENT_REPLY.test(error.message)) return internal();
  return unavailable("the store did not answer");
}

export interface RedisStoreOptions extends StoreSettings {
  /** The data connection; it should run with `enableOfflineQueue: false` so nothing is queued during an outage. */
  client: Redis | Cluster;
  keyPrefix: string;
  /**
   * Opt-in durability (`REDIS_WAIT_REPLICAS`): an add is acked only once this
   * many replicas have it, else it answers UNAVAILABLE. 0 or unset: off.
   */
  waitReplicas?: number;
  /** How long an add waits for those replicas (`REDIS_WAIT_TIMEOUT_MS`). */
  waitTimeoutMs?: number;
  /** Told when Redis stops answering on an open connection (true) and answers again (false). */
  onStall?: (stalled: boolean) => void;
  /**
   * Publishes each new message as part of its append: one round trip for the
   * write and the fan-out, and published only when stored (never for a
   * duplicate). Given the message about to be stored and the append's
   * `origin`, it returns what to publish where (or undefined: nothing). On a
   * Cluster the channel must hash to the slot of the user's key (a script
   * may touch only its key's slot): rooms.ts names rooms so that it does.
   */
  announce?: AppendAnnouncer;
  /**
   * The same for a clear: published within the delete, on the channel the
   * user's adds are announced on, so that every listener gets adds and
   * clears in the order Redis applied them.
   */
  announceClear?: ClearAnnouncer;
}

/** What to publish, and on which channel, when `message` is stored. */
export type AppendAnnouncer = (message: Message, origin: string | undefined) => Announcement | undefined;

/** What to publish, and on which channel, when `userId`'s history is cleared. */
export type ClearAnnouncer = (userId: string, origin: string | undefined) => Announcement | undefined;

export interface Announcement {
  channel: string;
  payload: string;
}

export class RedisStore implements Store {
  readonly kind = "redis";
  private readonly client: Redis | Cluster;
  private readonly stallGuard?: StallGuard;

  constructor(private readonly options: RedisStoreOptions) {
    this.client = options.client;
    defineScrollbackCommands(this.client);
    // One connection, one guard. A Cluster spreads users over several
    // connections, and one hanging node must not refuse every user's writes.
    if (!this.client.isCluster) {
      this.stallGuard = new StallGuard({ probe: () => this.client.ping(), onChange: options.onStall, stallAfterMs: STORE_DEADLINE_MS });
    }
  }

  async append(userId: string, message: NewMessage, options: AppendOptions = {}): Promise<AppendResult> {
    const key = messagesKey(this.options.keyPrefix, userId);
    const element = encodeElement(message);
    const dedupeId = options.freshId ? "" : message.id;
    const announcement = this.options.announce?.({ ...message, userId }, options.origin);
    const kept = await this.run(() =>
      this.options.waitReplicas
        ? this.appendAndWait(key, element, dedupeId, this.options.waitReplicas, announcement)
        : this.client.appendMessage(...this.appendArgs(key, element, dedupeId, announcement)),
    );
    if (kept === 0) return { message: { ...message, userId }, duplicate: false, announced: announcement !== undefined };
    const existing = decodeElement(kept, userId);
    if (!existing) throw internal();
    return { message: existing, duplicate: true };
  }

  async load(userId: string, options?: LoadOptions): Promise<LoadResult> {
    return selectWindow(await this.readWindow(userId), options);
  }

  async search(userId: string, options: SearchOptions): Promise<Message[]> {
    return searchWindow(await this.readWindow(userId), options);
  }

  async clear(userId: string, options: ClearOptions = {}): Promise<ClearResult> {
    const announcement = this.options.announceClear?.(userId, options.origin);
    const key = messagesKey(this.options.keyPrefix, userId);
    const removed = await this.run(() => this.client.clearHistory(key, announcement?.channel ?? "", announcement?.payload ?? ""));
    return { removed, announced: announcement !== undefined };
  }

  /** Seconds until the user's history expires, or null when there is none (for tests and tools; not part of `Store`). */
  async ttlSeconds(userId: string): Promise<number | null> {
    const ttl = await this.run(() => this.client.ttl(messagesKey(this.options.keyPrefix, userId)));
    return ttl < 0 ? null : ttl;
  }

  async ping(): Promise<void> {
    await this.run(() => this.client.ping());
  }

  async close(): Promise<void> {
    // The client belongs to whoever created it (see redis-connections.ts).
    this.stallGuard?.close();
  }

  /** The arguments of appendMessage.lua, in its KEYS/ARGV order. */
  private appendArgs(key: string, element: string, dedupeId: string, announce: Announcement | undefined) {
    const { historyMax, historyTtlSeconds } = this.options;
    return [key, element, dedupeId, historyMax, historyTtlSeconds, announce?.channel ?? "", announce?.payload ?? ""] as const;
  }

  /**
   * The add and a `WAIT` in one pipeline: one round trip, and in a Cluster
   * both go to the master of the key's slot (WAIT has no key to route by).
   * A duplicate waits too, so its ack also means "on the replicas".
   */
  private async appendAndWait(
    key: string,
    element: string,
    dedupeId: string,
    replicas: number,
    announce: Announcement | undefined,
    redirected = false,
  ): Promise<0 | string> {
    const results = await this.client
      .pipeline()
      .appendMessage(...this.appendArgs(key, element, dedupeId, announce))
      .wait(replicas, this.options.waitTimeoutMs ?? 1_000)
      .exec();
    const [[appendError, kept], [waitError, reached]] = results as [[Error | null, 0 | string], [Error | null, number]];
    // ioredis follows MOVED for a pipeline only when every command in it was
    // redirected, and WAIT never is: after a failover, learn the new slot
    // owners and send it once more (the script did not run on that node).
    if (appendError && !redirected && this.client.isCluster && appendError.message.startsWith("MOVED ")) {
      await new Promise<void>((resolve) => (this.client as Cluster).refreshSlotsCache(() => resolve()));
      return this.appendAndWait(key, element, dedupeId, replicas, announce, true);
    }
    if (appendError) throw appendError;
    if (waitError) throw waitError;
    if (reached < replicas) {
      throw unavailable(`stored on the master but on ${reached} of ${replicas} replicas in time`);
    }
    return kept;
  }

  private async readWindow(userId: string): Promise<Message[]> {
    // Buffers, so that ids derived from foreign elements hash the exact bytes Lua hashes.
    const raws = await this.run(() => this.client.lrangeBuffer(messagesKey(this.options.keyPrefix, userId), 0, -1));
    const { messages, skipped } = decodeElements(raws, userId);
    if (skipped > 0) this.options.onSkippedElements?.(skipped);
    return messages;
  }

  private async run<T>(command: () => Promise<T>): Promise<T> {
    holdWritesForThisTurn(this.client);
    try {
      return await (this.stallGuard ? this.stallGuard.run(command) : command());
    } catch (error) {
      throw toStoreError(error);
    }
  }
}

/**
 * Holds the connection's writes until the end of this event-loop turn, so
 * that the commands of every request handled in the turn leave in one write
 * (one system call) instead of one each. A Cluster client has no single
 * connection and is left alone.
 */
function holdWritesForThisTurn(client: Redis | Cluster): void {
  const stream = (client as Redis).stream as Redis["stream"] | undefined;
  if (!stream || stream.writableCorked > 0) return;
  stream.cork();
  setImmediate(() => stream.uncork());
}
