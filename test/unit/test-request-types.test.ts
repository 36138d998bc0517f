/**
 * The test helpers keep the protocol's types: `request` is typed by the event
 * map, so a test sending a wrong payload does not compile; `requestRaw` takes
 * anything, for the fuzzers. Checked by the type-checker (`npm run
 * typecheck`): each `@ts-expect-error` fails the check if the line below it
 * ever compiles. The function holding them is never run.
 */
import type { AddMessageAck, LoadHistoryAck, Message } from "@scrollback/client/protocol";
import { describe, expect, expectTypeOf, it } from "vitest";
import { request, requestOk, requestRaw, type TestSocket } from "../support/clients.js";

function typeAssertions(socket: TestSocket): void {
  expectTypeOf(request(socket, "message:add", { content: "hi" })).resolves.toEqualTypeOf<AddMessageAck>();
  expectTypeOf(request(socket, "history:load")).resolves.toEqualTypeOf<LoadHistoryAck>();
  expectTypeOf(requestOk(socket, "message:add", { content: "hi" }))
    .resolves.toHaveProperty("message")
    .toEqualTypeOf<Message>();
  // @ts-expect-error content is a string
  void request(socket, "message:add", { content: 42 });
  // @ts-expect-error message:add needs a payload
  void request(socket, "message:add");
  // @ts-expect-error a role the protocol does not have
  void request(socket, "history:search", { query: "x", role: "robot" });
  // @ts-expect-error an event the protocol does not have
  void request(socket, "history:destroy", {});
  // The raw variant sends what the protocol forbids.
  void requestRaw(socket, "history:destroy", { content: 42 }, "extra");
}

describe("test request helpers", () => {
  it("are typed by the protocol (checked by tsc)", () => {
    expect(typeof typeAssertions).toBe("function");
  });
});
