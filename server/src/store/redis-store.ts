/**
 * The Redis list store: one list per user (PROTOCOL.md §2), written by one Lua
 * script per add, so every add is exactly one round trip and atomic across
 * any number of replicas.
 */
import { readFileSync } from "node:fs";
import type { Cluster, Redis, Result } from "ioredis";
import type { Message } from "@scrollback/client/protocol";
import { AppError } from "../errors.js";
import { decodeElement, decodeElements, encodeElement } from "./message-codec.js";
import { searchWindow, selectWindow } from "./history-window.js";
import { messagesKey } from "./redis-keys.js";
import type { AppendOptions, AppendResult, LoadOptions, LoadResult, NewMessage, SearchOptions, Store, StoreSettings } from "./store.js";

declare module "ioredis" {
  interface RedisCommander<Context> {
    /** lua/appendMessage.lua: 0 when stored, the kept element on a duplicate. */
    appendMessage(key: string, element: string, dedupeId: string, max: number, ttlSeconds: number): Result<0 | string, Context>;
    /** lua/clearHistory.lua: how many elements were deleted. */
    clearHistory(key: string): Result<number, Context>;
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
  if (replyError && !TRANSIENT_REPLY.test(error.message)) return new AppError("INTERNAL", "internal error");
  return new AppError("UNAVAILABLE", "the store did not answer; retrying with the same id is safe");
}

export interface RedisStoreOptions extends StoreSettings {
  /** The data connection; it should run with `enableOfflineQueue: false` so nothing is queued during an outage. */
  client: Redis | Cluster;
  keyPrefix: string;
}

export class RedisStore implements Store {
  readonly kind = "redis";
  private readonly client: Redis | Cluster;

  constructor(private readonly options: RedisStoreOptions) {
    this.client = options.client;
    defineScrollbackCommands(this.client);
  }

  async append(userId: string, message: NewMessage, options: AppendOptions = {}): Promise<AppendResult> {
    const key = messagesKey(this.options.keyPrefix, userId);
    const element = encodeElement(message);
    const kept = await this.run(() =>
      this.client.appendMessage(key, element, options.freshId ? "" : message.id, this.options.historyMax, this.options.historyTtlSeconds),
    );
    if (kept === 0) return { message: { ...message, userId }, duplicate: false };
    const existing = decodeElement(kept, userId);
    if (!existing) throw new AppError("INTERNAL", "internal error");
    return { message: existing, duplicate: true };
  }

  async load(userId: string, options?: LoadOptions): Promise<LoadResult> {
    return selectWindow(await this.readWindow(userId), options);
  }

  async search(userId: string, options: SearchOptions): Promise<Message[]> {
    return searchWindow(await this.readWindow(userId), options);
  }

  async clear(userId: string): Promise<number> {
    return this.run(() => this.client.clearHistory(messagesKey(this.options.keyPrefix, userId)));
  }

  async ttlSeconds(userId: string): Promise<number | null> {
    const ttl = await this.run(() => this.client.ttl(messagesKey(this.options.keyPrefix, userId)));
    return ttl < 0 ? null : ttl;
  }

  async ping(): Promise<void> {
    await this.run(() => this.client.ping());
  }

  async close(): Promise<void> {
    // The client belongs to whoever created it (see redis-connections.ts).
  }

  private async readWindow(userId: string): Promise<Message[]> {
    // Buffers, so that ids derived from foreign elements hash the exact bytes Lua hashes.
    const raws = await this.run(() => this.client.lrangeBuffer(messagesKey(this.options.keyPrefix, userId), 0, -1));
    const { messages, skipped } = decodeElements(raws, userId);
    if (skipped > 0) this.options.onSkippedElements?.(skipped);
    return messages;
  }

  private async run<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw toStoreError(error);
    }
  }
}
