/**
 * The store's Lua scripts (./lua) and how they are sent: EVALSHA, and on
 * NOSCRIPT (the script cache was flushed, by SCRIPT FLUSH, a restart or a
 * failover to a node that never ran it) EVAL with the body, which cannot
 * miss. Nothing ran on a NOSCRIPT, so sending again never writes twice, and
 * SCRIPT LOAD is never needed (the ACL rule has no SCRIPT).
 *
 * Not ioredis's `defineCommand`: its fallback may be an EVALSHA again when
 * another command on the connection sent the body first, which a second
 * flush then refuses; and inside a pipeline it sends the script again
 * outside it, after the pipeline's WAIT, which would then have counted
 * replicas before the write.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { ChainableCommander, Cluster, Redis } from "ioredis";

/** One script of ./lua: its body and the SHA1 that names it in Redis's script cache. */
export interface LuaScript {
  name: string;
  lua: string;
  sha: string;
}

/**
 * The text of ./lua/<name>.lua. Read relative to this module, whose place
 * the build keeps (server/dist/lua beside the bundle), so every reader of a
 * script goes through here.
 */
export function luaSource(name: string): string {
  return readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), "utf8");
}

/**
 * The script ./lua/<name>.lua, after the fragments it uses (files of ./lua
 * that only define locals, e.g. liveDraft.lua) in the order given: one piece
 * of Lua shared by several scripts. The SHA1 is of that whole text, the one
 * EVAL sends.
 */
function loadScript(name: string, fragments: readonly string[] = []): LuaScript {
  const lua = [...fragments, name].map(luaSource).join("\n");
  return { name, lua, sha: createHash("sha1").update(lua).digest("hex") };
}

/** Every script the store runs; each file's header says its KEYS, ARGV and answer. */
export const SCRIPTS = {
  appendMessage: loadScript("appendMessage"),
  clearHistory: loadScript("clearHistory"),
  // All three judge a draft field live by liveDraft.lua's one rule.
  appendDraft: loadScript("appendDraft", ["liveDraft"]),
  readDrafts: loadScript("readDrafts", ["liveDraft"]),
  discardDraft: loadScript("discardDraft", ["liveDraft"]),
} as const;

/** A script's keys and arguments, in its KEYS and ARGV order. */
export interface ScriptCall {
  keys: readonly string[];
  args: readonly (string | number)[];
}

/** Redis has no script of that SHA1: nothing ran. */
export function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("NOSCRIPT");
}

/**
 * The scripts each client has run with their body (as ioredis does): until
 * then they are sent as EVAL, so the first calls on a fresh connection are
 * not EVALSHAs that all come back NOSCRIPT and are sent again behind later
 * ones: a connection's calls stay in the order they were made.
 */
const sentWithBody = new WeakMap<object, Set<string>>();

/** Whether `script` should go as EVAL with its body on `client` (not yet sent so). */
export function needsBody(client: object, script: LuaScript): boolean {
  return !sentWithBody.get(client)?.has(script.sha);
}

/** Notes that `script` ran on `client` with its body: EVALSHA from now on. */
export function sentBody(client: object, script: LuaScript): void {
  let sent = sentWithBody.get(client);
  if (!sent) {
    sent = new Set();
    sentWithBody.set(client, sent);
  }
  sent.add(script.sha);
}

/** Runs `script` on `client` (see the module's comment); resolves with its answer. */
export async function runScript(client: Redis | Cluster, script: LuaScript, { keys, args }: ScriptCall): Promise<unknown> {
  if (needsBody(client, script)) {
    const answer = await client.eval(script.lua, keys.length, ...keys, ...args);
    sentBody(client, script);
    return answer;
  }
  try {
    return await client.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!isNoScript(error)) throw error;
    return client.eval(script.lua, keys.length, ...keys, ...args);
  }
}

/** Queues `script` on a pipeline: by SHA1, or with its body once a NOSCRIPT said the node lacks it. */
export function pipeScript(
  pipeline: ChainableCommander,
  script: LuaScript,
  { keys, args }: ScriptCall,
  withBody: boolean,
): ChainableCommander {
  return withBody ? pipeline.eval(script.lua, keys.length, ...keys, ...args) : pipeline.evalsha(script.sha, keys.length, ...keys, ...args);
}
