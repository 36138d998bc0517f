/**
 * Every express router comes from http/exact-router.ts (case-sensitive,
 * strict): a plain `Router()` elsewhere would answer /METRICS and /metrics/
 * again, past a proxy rule written for /metrics.
 */
import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const SERVER_SRC = fileURLToPath(new URL("../../server/src/", import.meta.url));

it("no server module makes an express Router but exact-router.ts", async () => {
  const files = (await readdir(SERVER_SRC, { recursive: true })).filter((file) => file.endsWith(".ts"));
  const offenders: string[] = [];
  for (const file of files) {
    if (file.endsWith("exact-router.ts")) continue;
    const source = await readFile(`${SERVER_SRC}${file}`, "utf8");
    if (/\b(?:express\.)?Router\s*\(/.test(source)) offenders.push(file);
  }
  expect(offenders).toEqual([]);
});
