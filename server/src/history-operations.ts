/**
 * The operations of the protocol as the transports see them: the
 * Socket.IO handlers and the HTTP API call these with what the client sent
 * (`unknown`, validated inside), and know nothing of how they are carried
 * out. `HistoryService` implements them; `traceHistory` (tracing.ts) wraps
 * them.
 */
import type { Draft, DraftState, Message } from "@scrollback/client/protocol";
import type { AppendResult, LoadResult } from "./store/store.js";

export interface HistoryOperations {
  /** `message:add`; `originSocketId` is left out of the fan-out. */
  add(userId: string, payload: unknown, originSocketId?: string): Promise<AppendResult>;
  /** `history:load`. */
  load(userId: string, payload: unknown): Promise<LoadResult>;
  /** `history:search`. */
  search(userId: string, payload: unknown): Promise<Message[]>;
  /** `history:clear`; every connection of the user, `originSocketId`'s included, gets `history:cleared`. */
  clear(userId: string, payload: unknown, originSocketId?: string): Promise<number>;
  /** `draft:append`: one more chunk of the reply to be stored under `payload.id`; every other connection gets `draft:update`. */
  appendDraft(userId: string, payload: unknown, originSocketId?: string): Promise<DraftState>;
  /** `draft:discard`: false when there was no live draft under that id; every other connection gets `draft:discarded`. */
  discardDraft(userId: string, payload: unknown, originSocketId?: string): Promise<boolean>;
  /** The user's live drafts (`GET …/drafts`; `history:load` returns them with the window). */
  drafts(userId: string): Promise<Draft[]>;
}
