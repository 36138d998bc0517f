/**
 * The least-privilege Redis ACL rules for scrollback (README "Operations",
 * PROTOCOL.md §2), in one place: the test Redis (redis-server.ts) defines its
 * users from these very strings, and test/unit/redis-acl-documented.test.ts
 * checks the docs quote them verbatim, so a command the code starts using
 * outside the rule fails the integration suites, and the docs cannot drift.
 *
 * Why each command is there:
 * - handshake: PING (readiness, stall probes), INFO (ioredis's ready check),
 *   CLIENT SETNAME (connection names), SELECT (REDIS_DB > 0), QUIT (shutdown);
 *   on a Cluster only: CLUSTER SLOTS / CLUSTER INFO, ASKING (during
 *   resharding) and READONLY / READWRITE (ioredis sends one to each replica
 *   node it connects to, even when reading from masters only).
 * - INFO also tells whether Redis has room again after STORE_FULL.
 * - the store: EVALSHA and EVAL (lua-scripts.ts sends EVALSHA and falls back
 *   to EVAL on NOSCRIPT, so SCRIPT LOAD is never needed), and what the
 *   scripts call inside (Redis checks a script's calls against the caller's
 *   ACL too): on the lists LRANGE RPUSH LPOP LINDEX LLEN EXPIRE DEL; on each
 *   list's id index and drafts (hashes named `{<prefix>:<user>:messages}:…`,
 *   hence the second key pattern) HGET HMGET HSET HDEL HEXISTS HGETALL
 *   PEXPIRE PTTL; GET SET APPEND STRLEN on each draft's text (same hash tag);
 *   GET INCR on each user's inbox quota (same hash tag); TYPE
 *   XADD XTRIM for the inbox stream (INBOX_STREAM, also sent alone on a
 *   Cluster); TIME (drafts' idle clock, the inbox's age trim); SPUBLISH. Then
 *   TTL (tools), WAIT (REDIS_WAIT_REPLICAS) and FUNCTION LOAD (the
 *   `scrollback_add` library for direct writers, PROTOCOL.md §9).
 * - the fan-out: SPUBLISH / SSUBSCRIBE / SUNSUBSCRIBE on the adapter's
 *   channels `socket.io#/#…` and the pub/sub canary's `scrollback:canary:…`,
 *   PUBSUB SHARDNUMSUB (the adapter's server count).
 *
 * Nothing else: no CONFIG, KEYS, SCAN, FLUSH*, DEBUG, MONITOR, SCRIPT.
 */

/** The KEY_PREFIX the documented rules are written for. */
export const DEFAULT_KEY_PREFIX = "temp_memory";

/** What every client of scrollback sends while connecting and closing. */
const HANDSHAKE = "+ping +info +client|setname +select +quit +cluster|slots +cluster|info +asking +readonly +readwrite";

/** The ACL key pattern for every key under `prefix` (a glob character in the prefix is taken literally). */
function keyPattern(prefix: string): string {
  return `${prefix.replace(/[*?[\]\\]/g, "\\$&")}:*`;
}

/**
 * `ACL SETUSER` arguments (after the user name) for a replica: read and write
 * its keys, publish and subscribe on its fan-out channels. `password` is
 * written as `>password`.
 */
export function serverAclRule(password: string, prefix = DEFAULT_KEY_PREFIX): string {
  return [
    `on >${password} resetkeys ~${keyPattern(prefix)} ~{${keyPattern(prefix)} resetchannels &socket.io#/#* &scrollback:canary:*`,
    `-@all ${HANDSHAKE}`,
    "+evalsha +eval +lrange +rpush +lpop +lindex +llen +expire +del +ttl +wait",
    "+hget +hmget +hset +hdel +hexists +hgetall +pexpire +pttl +get +set +append +strlen +incr +type +xadd +xtrim +time +function|load",
    "+spublish +ssubscribe +sunsubscribe +pubsub|shardnumsub",
  ].join(" ");
}

/**
 * `ACL SETUSER` arguments for the same user on each Sentinel (REDIS_SENTINELS:
 * a replica authenticates to the Sentinels with REDIS_USERNAME /
 * REDIS_PASSWORD too): ask for the master's address and the other
 * Sentinels, and follow `+switch-master` announcements.
 */
export function sentinelAclRule(password: string): string {
  return `on >${password} resetchannels &+switch-master -@all +ping +client|setname +sentinel|get-master-addr-by-name +sentinel|sentinels +subscribe`;
}

/**
 * `ACL SETUSER` arguments for the operator CLI's read-only commands (`users`,
 * `show`, `export`, `stats`, `tail`): read its keys only (`%R~`), SCAN (never
 * KEYS), MEMORY USAGE (optional: refused, `show` leaves the size out), INFO
 * and PUBSUB SHARDNUMSUB for `stats`, and SSUBSCRIBE to one user's room
 * channel for `tail`. `clear` writes and needs the server's rule.
 */
export function cliReadOnlyAclRule(password: string, prefix = DEFAULT_KEY_PREFIX): string {
  return [
    `on >${password} resetkeys %R~${keyPattern(prefix)} resetchannels &socket.io#/#user:*`,
    `-@all ${HANDSHAKE}`,
    "+scan +llen +lrange +pttl +multi +exec +memory|usage +ssubscribe +sunsubscribe +pubsub|shardnumsub",
  ].join(" ");
}

/** The INBOX_STREAM the documented assistant rule is written for (PROTOCOL.md §8's example). */
export const DEFAULT_INBOX_STREAM = "temp_memory:inbox";

/**
 * `ACL SETUSER` arguments for an assistant backend reading the inbox stream
 * (PROTOCOL.md §8) with a consumer group: create the group (and the stream,
 * MKSTREAM), read, acknowledge, claim and look at what is pending, on that
 * one key; nothing else (it replies through the HTTP API, not Redis).
 * `streamPattern` is an ACL key pattern (the stream's name, or a glob).
 */
export function assistantAclRule(password: string, streamPattern = DEFAULT_INBOX_STREAM): string {
  return [
    `on >${password} resetkeys ~${streamPattern} resetchannels`,
    "-@all +ping +info +client|setname +select +quit",
    "+xgroup|create +xreadgroup +xack +xautoclaim +xpending",
  ].join(" ");
}

/**
 * `ACL SETUSER` arguments for a program that writes histories directly with
 * `FCALL scrollback_add` (PROTOCOL.md §9): the function runs with its
 * caller's permissions, so besides FCALL this is every command the add runs,
 * on the same keys, and publishing to the user rooms' channels.
 */
export function directWriterAclRule(password: string, prefix = DEFAULT_KEY_PREFIX): string {
  return [
    `on >${password} resetkeys ~${keyPattern(prefix)} ~{${keyPattern(prefix)} resetchannels &socket.io#/#user:*`,
    "-@all +ping +info +client|setname +select +quit +fcall",
    "+llen +lindex +lrange +rpush +lpop +expire +pexpire +pttl +del +hmget +hget +hset +hdel +get +incr +type +xadd +xtrim +time +spublish",
  ].join(" ");
}
