/**
 * The Redis list store: one list per user (PROTOCOL.md §2), written by one Lua
 * script per add, so every add is exactly one round trip and atomic across
 * any number of replicas.
 */
import { type Draft, type DraftUpdate, ERROR_CODES, type Message } from "@scrollback/client/protocol";
import type { Cluster, Redis } from "ioredis";
import { AppError, draftClosed, internal, rateLimited, storeFull, tooLarge, tooManyDrafts, unavailable } from "../errors.js";
import { withTimeout } from "../with-timeout.js";
import { decodeDraft, sortDrafts } from "./draft-codec.js";
import { searchWindow, selectWindow } from "./history-window.js";
import { isNoScript, needsBody, pipeScript, runScript, SCRIPTS, type ScriptCall, sentBody } from "./lua-scripts.js";
import { MasterStallGuards } from "./master-stall-guards.js";
import { decodeElement, decodeElements, encodeElement } from "./message-codec.js";
import { draftsKey, draftTextKey, inboxQuotaKey, messageIdsKey, messagesKey } from "./redis-keys.js";
import type { StallGuard } from "./stall-guard.js";
import {
  type AppendOptions,
  type AppendResult,
  type ClearOptions,
  type ClearResult,
  type DraftAppendResult,
  type DraftChunk,
  type DraftDiscardResult,
  type DraftOptions,
  draftBounds,
  type LoadOptions,
  type LoadResult,
  type NewMessage,
  type SearchOptions,
  STORE_DEADLINE_MS,
  type Store,
  type StoreSettings,
} from "./store.js";
import { TurnsPerKey } from "./turns-per-key.js";

/** A Redis that refused an add for memory has room again once it uses at most this share of `maxmemory` (see `isFull`). */
const ROOM_SHARE = 0.95;

/** The errors appendMessage.lua answers when the inbox refused the add: its key is not a stream, or its XADD failed. */
const INBOX_FAILED_REPLY = /^INBOX(TYPE|ADD)\b/;

/** The error appendMessage.lua answers when the user's inbox quota is used up, with the ms until it refills. */
const INBOX_QUOTA_REPLY = /^INBOXQUOTA (\d+)/;

// Server replies that mean "Redis cannot serve this right now", as opposed to
// a bug or a wrong key type (appendMessage.lua's INBOXTYPE among them: INTERNAL).
const TRANSIENT_REPLY = /^(LOADING|BUSY|CLUSTERDOWN|TRYAGAIN|READONLY|MASTERDOWN|NOREPLICAS|MOVED|ASK)\b/;

/**
 * Redis at `maxmemory` under `noeviction`. A script gets it from its first
 * write (Redis refuses a script's write only while it has written nothing),
 * so nothing is stored.
 */
const OUT_OF_MEMORY_REPLY = /^OOM\b/;

/** Turns an ioredis failure into STORE_FULL (out of memory), UNAVAILABLE (connection trouble) or INTERNAL (anything else). */
function toStoreError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const replyError = error instanceof Error && error.name === "ReplyError";
  if (replyError && OUT_OF_MEMORY_REPLY.test(error.message)) return storeFull();
  // The reply (e.g. a WRONGTYPE naming the key) goes to the log with the INTERNAL, never to the client.
  if (replyError && !TRANSIENT_REPLY.test(error.message)) return internal(error);
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
  /**
   * Connections of their own for an add and its `WAIT` (see
   * redis-connections.ts), so that a `WAIT` blocks no other call. Without
   * them, adds wait on `client`, holding up every call behind them.
   */
  waitClients?: readonly (Redis | Cluster)[];
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
  /** The inbox stream (INBOX_STREAM, PROTOCOL.md §8); unset: no add touches a stream. */
  inbox?: InboxOptions;
  /** The same for a draft's chunk (`draft:update`), published by appendDraft.lua. */
  announceDraftUpdate?: DraftUpdateAnnouncer;
  /** The same for an abandoned draft (`draft:discarded`). */
  announceDraftDiscarded?: DraftDiscardAnnouncer;
}

/** Where, and which, stored messages are appended for backends to read. */
export interface InboxOptions {
  /** The stream's key. */
  stream: string;
  /** Roles whose messages are appended. */
  roles: ReadonlySet<string>;
  /** Approximate cap (`XADD … MAXLEN ~`). */
  maxLen: number;
  /** How many messages of one user the inbox takes per minute (INBOX_USER_PER_MINUTE); 0 or unset: no quota. */
  userPerMinute?: number;
  /**
   * Told when an add could not reach the inbox: the key holds something
   * other than a stream or the XADD failed (the add then stored nothing and
   * answers INTERNAL),
   * or, on a Cluster, the XADD after the store failed (the add stays stored
   * and acked; the stream misses it).
   */
  onProblem?: (problem: { error: Error; messageId: string; stored: boolean }) => void;
}

/** One inbox entry's fields, in XADD order. */
interface InboxEntry {
  userId: string;
  id: string;
  message: string;
}

/**
 * What to publish, and where, for a draft's chunk: the broadcast cut around
 * its `seq`, which only the script learns (it publishes `before + seq + after`).
 */
export type DraftUpdateAnnouncer = (
  userId: string,
  update: Omit<DraftUpdate, "seq">,
  origin: string | undefined,
) => SplitAnnouncement | undefined;

/** What to publish, and where, when `userId`'s draft `id` is discarded. */
export type DraftDiscardAnnouncer = (userId: string, id: string, origin: string | undefined) => Announcement | undefined;

export interface SplitAnnouncement {
  channel: string;
  before: string;
  after: string;
}

/** What to publish, and on which channel, when `message` is stored. */
export type AppendAnnouncer = (message: Message, origin: string | undefined) => Announcement | undefined;

/** What to publish, and on which channel, when `userId`'s history is cleared. */
export type ClearAnnouncer = (userId: string, origin: string | undefined) => Announcement | undefined;

export interface Announcement {
  channel: string;
  payload: string;
}

/** Cluster only: how long an add, already stored, waits for its XADD to the inbox (in another slot) before it is answered anyway. */
const INBOX_AFTER_STORE_TIMEOUT_MS = 500;

/** How long an add's `WAIT` waits when `waitTimeoutMs` is not given. */
const DEFAULT_WAIT_TIMEOUT_MS = 1_000;

/**
 * Beyond its `WAIT` timeout, how long an add may stay unanswered before the
 * stall guard checks whether Redis still answers.
 */
const WAIT_GRACE_MS = 250;

/** How long each Cluster master has to answer a readiness PING: under /readyz's 1 s, so that its 503 names the master. */
const MASTER_PING_TIMEOUT_MS = 800;

/** How long a ping's answer stands for the next pings (see `ping`). */
export const PING_REUSE_MS = 250;

/** A connection for adds that WAIT, and how many of them it carries right now. */
interface WaitLane {
  client: Redis | Cluster;
  inFlight: number;
}

export class RedisStore implements Store {
  readonly kind = "redis";
  private readonly client: Redis | Cluster;
  private readonly stallGuards: MasterStallGuards;
  private readonly waitLanes: WaitLane[];
  private readonly waitTurns = new TurnsPerKey(STORE_DEADLINE_MS);
  private readonly drafting: ReturnType<typeof draftBounds>;
  private pingInFlight: Promise<void> | undefined;
  /** Redis is out of memory for adds, as last known (see `isFull`): set by a refused add, cleared by a stored one. */
  private full = false;
  private fullCheckedAt = 0;
  private lastPingAnsweredAt: number | undefined;

  constructor(private readonly options: RedisStoreOptions) {
    this.client = options.client;
    this.drafting = draftBounds(options);
    this.waitLanes = (options.waitClients ?? []).map((client) => ({ client, inFlight: 0 }));
    // One guard per master: a Cluster spreads users over several masters,
    // and one hanging master must not refuse the others' users.
    this.stallGuards = new MasterStallGuards(this.client, { onChange: options.onStall, stallAfterMs: STORE_DEADLINE_MS });
  }

  async append(userId: string, message: NewMessage, options: AppendOptions = {}): Promise<AppendResult> {
    const key = messagesKey(this.options.keyPrefix, userId);
    const announcement = this.options.announce?.({ ...message, userId }, options.origin);
    const entry = this.inboxEntry(userId, message);
    // On a Cluster the stream sits in another slot than the user's key: the script cannot touch it.
    const inScript = entry && !this.client.isCluster ? entry : undefined;
    const call = this.appendCall(userId, message, options, announcement, entry, inScript !== undefined);
    const replicas = this.options.waitReplicas;
    const reporting = <T>(add: () => Promise<T>) => this.reportingInboxRefusal(message.id, add);
    const { kept, reached } = await this.noteFull(() =>
      replicas
        ? this.runWaiting(key, (client) => reporting(() => this.appendAndWait(client, call, replicas)))
        : this.run(key, () => reporting(() => runScript(this.client, SCRIPTS.appendMessage, call))).then((kept) => ({ kept, reached: 0 })),
    );
    // A duplicate writes nothing, so only a stored add shows there is room again.
    if (kept === 0) this.full = false;
    if (kept === 0 && entry && !inScript) await this.appendToInboxAfterStore(entry);
    const unconfirmed = replicas && reached < replicas ? { unconfirmed: { replicas: reached, wanted: replicas } } : {};
    if (kept === 0) return { message: { ...message, userId }, duplicate: false, announced: announcement !== undefined, ...unconfirmed };
    const existing = typeof kept === "string" ? decodeElement(kept, userId) : undefined;
    if (!existing) throw internal();
    return { message: existing, duplicate: true, ...unconfirmed };
  }

  /** The window and the live drafts in one round trip (a pipeline: both keys sit in one Cluster slot). */
  async load(userId: string, options?: LoadOptions): Promise<LoadResult> {
    const key = messagesKey(this.options.keyPrefix, userId);
    const drafts = this.readDraftsCall(userId);
    const read = async (withBody: boolean) => {
      const body = withBody || needsBody(this.client, SCRIPTS.readDrafts);
      const results = await pipeScript(this.client.pipeline().lrangeBuffer(key, 0, -1), SCRIPTS.readDrafts, drafts, body).exec();
      const answers = (results ?? []) as [[Error | null, Buffer[]], [Error | null, string[]]];
      if (body && !answers[1][0]) sentBody(this.client, SCRIPTS.readDrafts);
      return answers;
    };
    const [[windowError, raws], [draftsError, fields]] = await this.run(key, async () => {
      const first = await read(false);
      // Both only read: after a NOSCRIPT, send both again with the script's body.
      return isNoScript(first[1][0]) ? read(true) : first;
    });
    if (windowError || draftsError) throw toStoreError(windowError ?? draftsError);
    return { ...selectWindow(this.decodeWindow(raws, userId), options), drafts: decodeDraftFields(fields) };
  }

  async appendDraft(userId: string, chunk: DraftChunk, options: DraftOptions = {}): Promise<DraftAppendResult> {
    const { keyPrefix } = this.options;
    const { idleMs, maxPerUser, maxBytes } = this.drafting;
    const key = draftsKey(keyPrefix, userId);
    const announcement = this.options.announceDraftUpdate?.(
      userId,
      { id: chunk.id, role: chunk.role, chunk: chunk.chunk, idleMs },
      options.origin,
    );
    const [outcome, seq, length] = (await this.noteFull(() =>
      this.run(key, () =>
        runScript(this.client, SCRIPTS.appendDraft, {
          keys: [key, messageIdsKey(keyPrefix, userId), draftTextKey(keyPrefix, userId, chunk.id)],
          args: [
            chunk.id,
            chunk.role,
            chunk.chunk,
            maxBytes,
            maxPerUser,
            idleMs,
            announcement?.channel ?? "",
            announcement?.before ?? "",
            announcement?.after ?? "",
          ],
        }),
      ),
    )) as [string, number?, number?];
    if (outcome === "closed") throw draftClosed(chunk.id);
    if (outcome === "large") throw tooLarge(`content: the draft would be over ${maxBytes} UTF-8 bytes`);
    if (outcome === "full") throw tooManyDrafts(maxPerUser);
    if (outcome !== "ok" || seq === undefined || length === undefined) throw internal();
    return { draft: { id: chunk.id, seq, length }, announced: announcement !== undefined };
  }

  async discardDraft(userId: string, id: string, options: DraftOptions = {}): Promise<DraftDiscardResult> {
    const key = draftsKey(this.options.keyPrefix, userId);
    const announcement = this.options.announceDraftDiscarded?.(userId, id, options.origin);
    const discarded = await this.run(key, () =>
      runScript(this.client, SCRIPTS.discardDraft, {
        keys: [key, draftTextKey(this.options.keyPrefix, userId, id)],
        args: [id, this.drafting.idleMs, announcement?.channel ?? "", announcement?.payload ?? ""],
      }),
    );
    return { discarded: discarded === 1, announced: discarded === 1 && announcement !== undefined };
  }

  async drafts(userId: string): Promise<Draft[]> {
    const key = draftsKey(this.options.keyPrefix, userId);
    const call = this.readDraftsCall(userId);
    return decodeDraftFields((await this.run(key, () => runScript(this.client, SCRIPTS.readDrafts, call))) as string[]);
  }

  async search(userId: string, options: SearchOptions): Promise<Message[]> {
    return searchWindow(await this.readWindow(userId), options);
  }

  async clear(userId: string, options: ClearOptions = {}): Promise<ClearResult> {
    const announcement = this.options.announceClear?.(userId, options.origin);
    const key = messagesKey(this.options.keyPrefix, userId);
    const idsKey = messageIdsKey(this.options.keyPrefix, userId);
    const removed = (await this.run(key, () =>
      runScript(this.client, SCRIPTS.clearHistory, {
        keys: [key, idsKey],
        args: [announcement?.channel ?? "", announcement?.payload ?? ""],
      }),
    )) as number;
    return { removed, announced: announcement !== undefined };
  }

  /** Seconds until the user's history expires, or null when there is none (for tests and tools; not part of `Store`). */
  async ttlSeconds(userId: string): Promise<number | null> {
    const key = messagesKey(this.options.keyPrefix, userId);
    const ttl = await this.run(key, () => this.client.ttl(key));
    return ttl < 0 ? null : ttl;
  }

  /**
   * PINGs every master: the one Redis, or each master of a Cluster, each
   * through its stall guard. On a Cluster the rejection names the first
   * master that did not answer within MASTER_PING_TIMEOUT_MS.
   *
   * /readyz and /metrics ping on every request, and /readyz is public: calls
   * made while a ping is in flight share it, and one answered less than
   * PING_REUSE_MS ago stands in for a new one while the connection is up and
   * no master is known to hang. A flood then costs Redis at most one PING
   * per master per PING_REUSE_MS. A failure is never reused: refused at once
   * without being sent (connection down, or stalled), it costs Redis nothing.
   */
  ping(): Promise<void> {
    const answeredRecently = this.lastPingAnsweredAt !== undefined && Date.now() - this.lastPingAnsweredAt < PING_REUSE_MS;
    if (answeredRecently && this.client.status === "ready" && !this.anyMasterStalled()) return Promise.resolve();
    if (!this.pingInFlight) {
      const ping = this.pingMasters();
      this.pingInFlight = ping;
      const settled = (answered: boolean) => {
        if (this.pingInFlight === ping) this.pingInFlight = undefined;
        this.lastPingAnsweredAt = answered ? Date.now() : undefined;
      };
      ping.then(
        () => settled(true),
        () => settled(false),
      );
    }
    return this.pingInFlight;
  }

  /** Runs a write, remembering a STORE_FULL refusal for `isFull`. */
  private async noteFull<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (error instanceof AppError && error.code === ERROR_CODES.STORE_FULL) this.full = true;
      throw error;
    }
  }

  /**
   * Whether Redis is out of memory for adds: an add was refused STORE_FULL
   * and none has been stored since. While it says so, at most once per
   * PING_REUSE_MS it asks every master for `INFO memory`, and clears once
   * each has `used_memory` at most ROOM_SHARE of `maxmemory`, so a store
   * nobody writes to stops reading full when it has room. (Not at the limit
   * itself: Redis counts the pending command's own bytes, so it refuses adds
   * while INFO shows it just under.) No answer: as last known.
   */
  async isFull(): Promise<boolean> {
    if (!this.full || Date.now() - this.fullCheckedAt < PING_REUSE_MS) return this.full;
    this.fullCheckedAt = Date.now();
    try {
      const masters = await withTimeout(this.mastersMemory(), { ms: MASTER_PING_TIMEOUT_MS, onTimeout: () => undefined });
      if (masters?.every(({ used, max }) => max === 0 || used <= max * ROOM_SHARE)) this.full = false;
    } catch {
      // No answer: as last known.
    }
    return this.full;
  }

  private async mastersMemory(): Promise<{ used: number; max: number }[]> {
    const masters = this.client.isCluster ? (this.client as Cluster).nodes("master") : [this.client as Redis];
    const infos = await Promise.all(masters.map((master) => master.info("memory")));
    return infos.map((info) => {
      const field = (name: string) => new RegExp(`^${name}:(\\S+)`, "m").exec(info)?.[1] ?? "";
      return { used: Number(field("used_memory")), max: Number(field("maxmemory")) };
    });
  }

  private anyMasterStalled(): boolean {
    return this.stallGuards.masters().some(({ guard }) => guard.isStalled);
  }

  private async pingMasters(): Promise<void> {
    const masters = this.stallGuards.masters();
    if (!this.client.isCluster) {
      const [only] = masters;
      await this.guarded(only?.guard, () => this.client.ping());
      return;
    }
    // A Cluster answers only when every master does: a frozen one's users are refused.
    if (masters.length === 0) throw unavailable("no Redis Cluster master is known yet");
    await Promise.all(
      masters.map(async ({ address, guard, ping }) => {
        const refused = () => unavailable(`Redis Cluster master ${address} does not answer`);
        try {
          await withTimeout(guard.run(ping), {
            ms: MASTER_PING_TIMEOUT_MS,
            onTimeout: () => {
              throw refused();
            },
          });
        } catch {
          throw refused();
        }
      }),
    );
  }

  async close(): Promise<void> {
    // The client belongs to whoever created it (see redis-connections.ts).
    this.stallGuards.close();
  }

  /**
   * appendMessage.lua's call for one add: its KEYS and ARGV, with the user's
   * inbox quota when `entry` enters the inbox, and the entry's XADD when
   * `xaddInside` (not on a Cluster, where the stream is in another slot).
   */
  private appendCall(
    userId: string,
    message: NewMessage,
    options: AppendOptions,
    announce: Announcement | undefined,
    entry: InboxEntry | undefined,
    xaddInside: boolean,
  ): ScriptCall {
    const { keyPrefix, historyMax, historyTtlSeconds } = this.options;
    const keys = [messagesKey(keyPrefix, userId), messageIdsKey(keyPrefix, userId), draftsKey(keyPrefix, userId)];
    const args = [
      encodeElement(message),
      message.id,
      options.freshId ? "0" : "1",
      historyMax,
      historyTtlSeconds,
      announce?.channel ?? "",
      announce?.payload ?? "",
    ];
    if (!entry) return { keys, args };
    const { stream, maxLen, userPerMinute = 0 } = this.options.inbox as InboxOptions;
    const quota = inboxQuotaKey(keyPrefix, userId);
    // KEYS[4], the user's inbox quota, always with the inbox; KEYS[5], the stream, when the XADD runs inside (not on a Cluster).
    if (!xaddInside) return { keys: [...keys, quota], args: [...args, userPerMinute] };
    return { keys: [...keys, quota, stream], args: [...args, userPerMinute, maxLen, entry.userId, entry.id, entry.message] };
  }

  /** readDrafts.lua's call for `userId`. */
  private readDraftsCall(userId: string): ScriptCall {
    const { idleMs, maxPerUser, maxBytes } = this.drafting;
    return { keys: [draftsKey(this.options.keyPrefix, userId)], args: [idleMs, maxPerUser, maxBytes] };
  }

  /** The inbox entry of `message`, or undefined when the inbox is off or does not take its role. */
  private inboxEntry(userId: string, message: NewMessage): InboxEntry | undefined {
    const inbox = this.options.inbox;
    if (!inbox?.roles.has(message.role)) return undefined;
    // The Message exactly as the add's answer serves it (PROTOCOL.md §4).
    return { userId, id: message.id, message: JSON.stringify({ ...message, userId }) };
  }

  /**
   * Runs an add, answering RATE_LIMITED when the user's inbox quota refused
   * it, and telling `inbox.onProblem` when the inbox did (its key is not a
   * stream, or the XADD failed).
   */
  private async reportingInboxRefusal<T>(messageId: string, add: () => Promise<T>): Promise<T> {
    try {
      return await add();
    } catch (error) {
      if (!(error instanceof Error)) throw error;
      const quota = INBOX_QUOTA_REPLY.exec(error.message);
      if (quota) throw rateLimited(Number(quota[1]), "too many messages for the inbox this minute");
      if (INBOX_FAILED_REPLY.test(error.message)) this.options.inbox?.onProblem?.({ error, messageId, stored: false });
      throw error;
    }
  }

  /**
   * Cluster only: the XADD after the script, on the stream's master. The add
   * is stored already, and its retry would be a duplicate (which appends
   * nothing), so a failure here does not fail the add: it is reported and
   * the stream misses that message (PROTOCOL.md §8).
   */
  private async appendToInboxAfterStore(entry: InboxEntry): Promise<void> {
    const { stream, maxLen, onProblem } = this.options.inbox as InboxOptions;
    // Entries older than the histories' TTL go as in the script; the cut is
    // this replica's clock here (the script's is Redis's): one round trip.
    const oldest = Date.now() - this.options.historyTtlSeconds * 1000;
    const xadd = this.run(stream, async () => {
      const results = await this.client
        .pipeline()
        .xadd(stream, "MAXLEN", "~", maxLen, "*", "userId", entry.userId, "id", entry.id, "message", entry.message)
        .xtrim(stream, "MINID", oldest)
        .exec();
      const failed = (results ?? []).find(([error]) => error)?.[0];
      if (failed) throw failed;
    });
    try {
      // The add is stored already: a hanging stream master must not hold its answer for long.
      await withTimeout(xadd, {
        ms: INBOX_AFTER_STORE_TIMEOUT_MS,
        onTimeout: () => {
          throw new Error(`the inbox XADD was not answered within ${INBOX_AFTER_STORE_TIMEOUT_MS} ms (it may still land)`);
        },
      });
    } catch (error) {
      onProblem?.({ error: error instanceof Error ? error : new Error(String(error)), messageId: entry.id, stored: true });
    }
  }

  /**
   * The add and a `WAIT` in one pipeline: one round trip, and in a Cluster
   * both go to the master of the key's slot (WAIT has no key to route by).
   * A duplicate waits too, so its ack also means "on the replicas".
   * Resolves with the script's reply and how many replicas confirmed.
   */
  private async appendAndWait(
    client: Redis | Cluster,
    call: ScriptCall,
    replicas: number,
    redirected = false,
    withBody = false,
  ): Promise<{ kept: 0 | string; reached: number }> {
    // The script and its WAIT in one pipeline, always: were the script sent
    // again on its own after a NOSCRIPT, the WAIT would have counted replicas
    // before the write, and the add be acked as replicated when it is not.
    const body = withBody || needsBody(client, SCRIPTS.appendMessage);
    const pipeline = pipeScript(client.pipeline(), SCRIPTS.appendMessage, call, body);
    const results = await pipeline.wait(replicas, this.options.waitTimeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS).exec();
    const [[appendError, kept], [waitError, reached]] = results as [[Error | null, 0 | string], [Error | null, number]];
    if (body && !appendError) sentBody(client, SCRIPTS.appendMessage);
    // The script cache was flushed: nothing ran; send the body, and the WAIT after it.
    if (appendError && !body && isNoScript(appendError)) return this.appendAndWait(client, call, replicas, redirected, true);
    // ioredis follows MOVED for a pipeline only when every command in it was
    // redirected, and WAIT never is: after a failover, learn the new slot
    // owners and send it once more (the script did not run on that node).
    if (appendError && !redirected && client.isCluster && appendError.message.startsWith("MOVED ")) {
      await new Promise<void>((resolve) => (client as Cluster).refreshSlotsCache(() => resolve()));
      return this.appendAndWait(client, call, replicas, true, withBody);
    }
    if (appendError) throw appendError;
    if (waitError) throw waitError;
    return { kept, reached };
  }

  private async readWindow(userId: string): Promise<Message[]> {
    // Buffers, so that ids derived from foreign elements hash the exact bytes Lua hashes.
    const key = messagesKey(this.options.keyPrefix, userId);
    const raws = await this.run(key, () => this.client.lrangeBuffer(key, 0, -1));
    return this.decodeWindow(raws, userId);
  }

  private decodeWindow(raws: Buffer[], userId: string): Message[] {
    const { messages, skipped } = decodeElements(raws, userId);
    if (skipped > 0) this.options.onSkippedElements?.(skipped);
    return messages;
  }

  /**
   * Runs an add that WAITs on the connected wait connection carrying the
   * fewest adds (an idle one while there is one), or on the data connection
   * when there are none; one add per user at a time, and one whose turn
   * comes only after the deadline (its caller has been answered) is not sent. A `WAIT` legitimately blocks its connection for its
   * timeout (once per add queued on it), so only a wait beyond that makes
   * the stall guard check Redis, on the data connection.
   */
  private async runWaiting<T>(key: string, command: (client: Redis | Cluster) => Promise<T>): Promise<T> {
    if (this.waitLanes.length === 0) return this.run(key, () => command(this.client));
    // One waiting add per user at a time: a user's adds queue behind their
    // own, and the other lanes stay free for other users.
    return this.waitTurns.run(key, (waitedMs) => {
      if (waitedMs >= STORE_DEADLINE_MS)
        throw unavailable("the previous add of this user was still waiting for replicas; nothing was sent");
      return this.runOnLane(key, command);
    });
  }

  private async runOnLane<T>(key: string, command: (client: Redis | Cluster) => Promise<T>): Promise<T> {
    const guard = this.stallGuards.forKey(key);
    const lane = this.readyLaneCarryingFewest();
    if (!lane) throw unavailable("no connection to the store is ready for adds; nothing was sent");
    lane.inFlight++;
    holdWritesForThisTurn(lane.client);
    const mayBlockMs = lane.inFlight * (this.options.waitTimeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS) + WAIT_GRACE_MS;
    try {
      return await (guard ? guard.runBlocking(() => command(lane.client), mayBlockMs) : command(lane.client));
    } catch (error) {
      throw toStoreError(error);
    } finally {
      lane.inFlight--;
    }
  }

  /**
   * A lane that is down refuses at once (no offline queue), so it never
   * carries anything: counted with the others it would always look idlest
   * and take every add. Only connected lanes are candidates.
   */
  private readyLaneCarryingFewest(): WaitLane | undefined {
    let best: WaitLane | undefined;
    for (const lane of this.waitLanes) {
      if (lane.client.status !== "ready") continue;
      if (!best || lane.inFlight < best.inFlight) best = lane;
    }
    return best;
  }

  /** Runs a command on `key` through the stall guard of the master serving it. */
  private run<T>(key: string, command: () => Promise<T>): Promise<T> {
    return this.guarded(this.stallGuards.forKey(key), command);
  }

  private async guarded<T>(guard: StallGuard | undefined, command: () => Promise<T>): Promise<T> {
    holdWritesForThisTurn(this.client);
    try {
      return await (guard ? guard.run(command) : command());
    } catch (error) {
      throw toStoreError(error);
    }
  }
}

/** readDrafts.lua's answer as drafts (values it cannot read are left out). */
function decodeDraftFields(fields: string[]): Draft[] {
  const drafts: Draft[] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const draft = decodeDraft(fields[i] as string, fields[i + 1] as string);
    if (draft) drafts.push(draft);
  }
  return sortDrafts(drafts);
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
