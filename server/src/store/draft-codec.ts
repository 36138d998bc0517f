/**
 * A draft as the stores read it (readDrafts.lua joins the stored metadata
 * and text into the same JSON): `{role, content, seq, updatedAt}` under the
 * draft's id. Read defensively:
 * the hash sits in Redis where anything may be written into it.
 */
import type { Draft, Role } from "@scrollback/client/protocol";

const ROLES: ReadonlySet<string> = new Set<Role>(["user", "assistant", "system"]);

/** The stored value of a draft. */
export function encodeDraft(draft: Omit<Draft, "id">): string {
  return JSON.stringify({ role: draft.role, content: draft.content, seq: draft.seq, updatedAt: draft.updatedAt });
}

/** The draft stored under `id`, or null when `raw` is not one. */
export function decodeDraft(id: string, raw: string): Draft | null {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return null;
  }
  const { role, content, seq, updatedAt } = (value ?? {}) as Record<string, unknown>;
  // A seq below 1 is none the stores write (liveDraft.lua counts such a field dead too).
  if (typeof content !== "string" || !Number.isSafeInteger(seq) || (seq as number) < 1 || typeof updatedAt !== "number") return null;
  return { id, role: typeof role === "string" && ROLES.has(role) ? (role as Role) : "assistant", content, seq: seq as number, updatedAt };
}

/** Drafts oldest first (by when they last grew), so every reader lists them alike. */
export function sortDrafts(drafts: Draft[]): Draft[] {
  return drafts.sort((a, b) => a.updatedAt - b.updatedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
