/**
 * The Lua string literals direct-write-function.ts bakes the settings into
 * (KEY_PREFIX, INBOX_STREAM, the broadcast's pieces) read back byte for byte
 * by Redis's own Lua, whatever digit follows an escaped byte.
 */
import { describe, expect, it } from "vitest";
import { luaString } from "../../server/src/direct-write-function.js";
import { useSuiteRedis } from "../support/suite-redis.js";

const redis = useSuiteRedis();

/** What Redis's Lua reads `luaString(text)` as, as bytes. */
async function readBack(text: string): Promise<Buffer> {
  return (await redis.admin.callBuffer("EVAL", `return ${luaString(text)}`, "0")) as Buffer;
}

describe("luaString", () => {
  it.each([
    ['a"1', "a quote then a digit"],
    ["a\\1", "a backslash then a digit"],
    ["\x012", "a control byte then a digit"],
    ["\n0\t99\x7f7", "several escapes each followed by digits"],
    ["tm\u00e9\u{1f600}1", "multi-byte UTF-8 then a digit"],
    ["plain:prefix_01", "nothing to escape"],
  ])("round-trips %j (%s) through Redis's Lua", async (text) => {
    expect((await readBack(text)).equals(Buffer.from(text, "utf8"))).toBe(true);
  });

  it("round-trips every byte followed by every digit", async () => {
    let text = "";
    for (let code = 0; code < 0x80; code++) text += `${String.fromCharCode(code)}${code % 10}`;
    expect((await readBack(text)).equals(Buffer.from(text, "utf8"))).toBe(true);
  });
});
