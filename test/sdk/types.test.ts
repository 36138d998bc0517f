/**
 * The SDK's types come from the shared protocol: a wrong event name, payload
 * or listener does not compile. These assertions are checked by the
 * type-checker (`npm run typecheck`, part of CI), each `@ts-expect-error`
 * failing the check if the line below it ever compiles; the function holding
 * them is never run, so nothing connects.
 */
import {
  type AddInput,
  type ClientToServerEvents,
  type ConnectionStatus,
  connect,
  type DraftEndReason,
  type DraftState,
  type ErrorCode,
  type LiveDraft,
  type Message,
  type PendingMessage,
  type PendingState,
  type ScrollbackClient,
  ScrollbackError,
  type ScrollbackSnapshot,
  type ServerToClientEvents,
} from "@scrollback/client";
import { useScrollback } from "@scrollback/client/react";
import type { Socket } from "socket.io-client";
import { describe, expect, expectTypeOf, it } from "vitest";

function typeAssertions(client: ScrollbackClient, socket: Socket<ServerToClientEvents, ClientToServerEvents>): void {
  // Methods take and return protocol types.
  expectTypeOf(client.add).parameter(0).toEqualTypeOf<AddInput>();
  expectTypeOf(client.add({ content: "hi" })).resolves.toEqualTypeOf<Message>();
  expectTypeOf(client.load()).resolves.toEqualTypeOf<{ messages: Message[]; gap: boolean }>();
  expectTypeOf(client.search("x", { role: "assistant" })).resolves.toEqualTypeOf<Message[]>();
  expectTypeOf(client.clear()).resolves.toEqualTypeOf<number>();
  expectTypeOf(client.status).toEqualTypeOf<ConnectionStatus>();
  expectTypeOf(client.pending).toEqualTypeOf<PendingMessage[]>();

  // The snapshot: read-only, and what the hook returns.
  expectTypeOf(client.getSnapshot()).toEqualTypeOf<ScrollbackSnapshot>();
  expectTypeOf(client.getSnapshot().pending[0]!.state).toEqualTypeOf<PendingState>();
  expectTypeOf(client.subscribe).toEqualTypeOf<(listener: () => void) => () => void>();
  expectTypeOf(useScrollback(client)).toEqualTypeOf<ScrollbackSnapshot>();
  expectTypeOf(useScrollback(null)).toEqualTypeOf<ScrollbackSnapshot>();
  // @ts-expect-error the snapshot's lists are read-only
  client.getSnapshot().messages.push(client.getSnapshot().messages[0]!);
  // @ts-expect-error so are its fields
  client.getSnapshot().status = "online";
  // @ts-expect-error the hook reads a client, not a URL
  useScrollback("http://localhost:3000");

  // Events carry typed payloads.
  client.on("message", (message) => expectTypeOf(message).toEqualTypeOf<Message>());
  client.on("reset", (messages) => expectTypeOf(messages).toEqualTypeOf<Message[]>());
  client.on("status", (status) => expectTypeOf(status).toEqualTypeOf<"connecting" | "online" | "offline" | "unauthorized">());
  client.on("error", (error) => expectTypeOf(error.code).toEqualTypeOf<ErrorCode | "TIMEOUT" | "CLOSED" | "ABORTED">());
  expectTypeOf(client.on("cleared", () => {})).toEqualTypeOf<() => void>();

  client.on("draft", (draft) => expectTypeOf(draft).toEqualTypeOf<LiveDraft>());
  client.on("draftEnd", (id, reason) => {
    expectTypeOf(id).toEqualTypeOf<string>();
    expectTypeOf(reason).toEqualTypeOf<DraftEndReason>();
    expectTypeOf(reason).toEqualTypeOf<"stored" | "discarded" | "idle">();
  });

  // Drafts: streamed replies, sent and shown.
  expectTypeOf(client.appendDraft("r1", "Hel", { role: "assistant" })).resolves.toEqualTypeOf<DraftState>();
  expectTypeOf(client.discardDraft("r1")).resolves.toEqualTypeOf<boolean>();
  expectTypeOf(client.getSnapshot().drafts).toEqualTypeOf<readonly LiveDraft[]>();
  expectTypeOf(client.getSnapshot().drafts[0]!).toEqualTypeOf<LiveDraft>();
  // @ts-expect-error a draft in the snapshot is read-only
  client.getSnapshot().drafts[0]!.content = "x";
  // @ts-expect-error a chunk is a string
  void client.appendDraft("r1", 42);
  // @ts-expect-error role is "user" | "assistant" | "system"
  void client.appendDraft("r1", "x", { role: "bot" });
  socket.on("draft:update", (update) => expectTypeOf(update.seq).toEqualTypeOf<number>());

  // @ts-expect-error an event the client does not have
  client.on("mesage", () => {});
  // @ts-expect-error a listener of the wrong shape
  client.on("message", (message: string) => message);
  // @ts-expect-error content is required
  void client.add({ role: "user" });
  // @ts-expect-error role is "user" | "assistant" | "system"
  void client.add({ content: "x", role: "bot" });
  // @ts-expect-error meta values are flat: string, number, boolean or null
  void client.add({ content: "x", meta: { nested: { a: 1 } } });
  // @ts-expect-error search takes the query string first
  void client.search({ query: "x" });
  // @ts-expect-error limit is a number
  void client.load({ limit: "10" });

  // Credentials: exactly one of token and userId.
  connect("http://localhost:3000", { userId: "alice" });
  connect(["http://a:3000", "http://b:3000"], { token: async () => "jwt", persist: true });
  // @ts-expect-error neither token nor userId
  connect("http://localhost:3000", {});
  // @ts-expect-error both token and userId
  connect("http://localhost:3000", { token: "jwt", userId: "alice" });
  // @ts-expect-error a token is a string or a function returning one
  connect("http://localhost:3000", { token: 42 });

  // The raw socket is typed by the same protocol maps.
  socket.emit("message:add", { content: "x" }, (answer) => {
    if (answer.ok) expectTypeOf(answer.message).toEqualTypeOf<Message>();
    else expectTypeOf(answer.error.code).toEqualTypeOf<ErrorCode>();
  });
  // @ts-expect-error an event the protocol does not have
  socket.emit("message:ad", { content: "x" }, () => {});
  // @ts-expect-error a payload of the wrong shape
  socket.emit("history:search", { q: "x" }, () => {});
  socket.on("message:new", (message) => expectTypeOf(message).toEqualTypeOf<Message>());
}

describe("SDK types", () => {
  it("are checked by tsc; at run time the error class behaves as typed", () => {
    expect(typeof typeAssertions).toBe("function");
    const error = new ScrollbackError("RATE_LIMITED", "slow down", { retryAfterMs: 120, messageId: "m1" });
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: "ScrollbackError", code: "RATE_LIMITED", retryAfterMs: 120, messageId: "m1", retryable: true });
    expect(new ScrollbackError("TOO_LARGE", "too big").retryable).toBe(false);
  });
});
