/**
 * `npm run openapi`: writes docs/openapi.json from the code (server/src/http/openapi.ts).
 * test/unit/openapi-document.test.ts fails when the committed file differs.
 */
import { writeFileSync } from "node:fs";
import { openApiText } from "../server/src/http/openapi.js";

const target = new URL("../docs/openapi.json", import.meta.url);
writeFileSync(target, openApiText());
console.log(`wrote ${target.pathname}`);
