/**
 * The SDK as an outsider gets it (issue 11): `npm pack -w @scrollback/client`
 * (whose prepack builds dist/), the tarball installed into a fresh project
 * outside this repository, and that project using it against a real server
 * from Node ESM, Node CommonJS, TypeScript (node16 and bundler resolution) and
 * an esbuild browser bundle, and its React entry (`./react`, react an optional
 * peer) rendering from ESM and CJS. publint and @arethetypeswrong/cli check
 * the same tarball, so `npm test` fails on a package that would not install or type.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../support/servers.js";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = join(ROOT, "node_modules", ".bin");
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");

// npm passes its settings to scripts as npm_* variables; under `npm test`
// they would point the temp project's npm at this workspace.
const CLEAN_ENV = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith("npm_")));

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string }[];
}

let temp: string;
let project: string;
let tarball: string;
let packed: PackResult;
let server: TestServer;

async function inProject(command: string, args: string[]): Promise<string> {
  const { stdout } = await run(command, args, { cwd: project, env: CLEAN_ENV });
  return stdout.trim();
}

function write(name: string, text: string): void {
  writeFileSync(join(project, name), text);
}

beforeAll(async () => {
  // Outside the repository, so nothing resolves from its node_modules.
  temp = mkdtempSync(join(tmpdir(), "scrollback-package-"));
  project = join(temp, "consumer");
  mkdirSync(project);
  write("package.json", `${JSON.stringify({ name: "scrollback-consumer", private: true, version: "1.0.0" })}\n`);
  const [{ stdout }, started] = await Promise.all([
    run("npm", ["pack", "-w", "@scrollback/client", "--pack-destination", temp, "--json"], { cwd: ROOT, env: CLEAN_ENV }),
    startServer({ STORE: "memory" }),
  ]);
  server = started;
  // The prepack build prints its sizes first; the JSON report follows.
  packed = (JSON.parse(stdout.slice(stdout.search(/^\[/m))) as PackResult[])[0]!;
  tarball = join(temp, packed.filename);
  await inProject("npm", ["install", tarball, "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"]);
}, 240_000);

afterAll(async () => {
  await server?.close();
  if (temp) rmSync(temp, { recursive: true, force: true });
});

describe("the packed SDK", () => {
  it("holds the builds, types, README and LICENSE, and no sources or tests", () => {
    const files = packed.files.map((file) => file.path);
    console.log(
      `${packed.filename}: ${(packed.size / 1024).toFixed(1)} kB packed, ${(packed.unpackedSize / 1024).toFixed(1)} kB unpacked, ${files.length} files`,
    );
    for (const file of [
      "package.json",
      "README.md",
      "LICENSE",
      "dist/index.js",
      "dist/index.cjs",
      "dist/protocol/index.js",
      "dist/protocol/schemas.cjs",
      "dist/types/index.d.ts",
      "dist/types/index.d.cts",
      "dist/types/protocol/schemas.d.cts",
      "dist/types/browser/iife.d.ts",
      "dist/react.js",
      "dist/react.cjs",
      "dist/types/react.d.ts",
      "dist/types/react.d.cts",
      "dist/browser/scrollback.iife.js",
      "dist/browser/scrollback.esm.js",
    ]) {
      expect(files, file).toContain(file);
    }
    expect(files.filter((file) => /^(src|test|scripts)\//.test(file) || file.startsWith("tsconfig"))).toEqual([]);
  });

  it("installs without zod: it is an optional peer of ./protocol/schemas only", () => {
    expect(existsSync(join(project, "node_modules", "@scrollback", "client", "dist", "index.js"))).toBe(true);
    expect(existsSync(join(project, "node_modules", "socket.io-client"))).toBe(true);
    expect(existsSync(join(project, "node_modules", "zod"))).toBe(false);
  });

  it("stores and loads a message from Node ESM, and ./protocol loads without zod", async () => {
    write(
      "esm.mjs",
      `import { connect, ERROR_CODES } from "@scrollback/client";
       import { MESSAGE_ID_PATTERN } from "@scrollback/client/protocol";
       const client = connect(process.argv[2], { userId: "package_esm_user" });
       const stored = await client.add({ content: "from the packed ESM build" });
       const { messages } = await client.load({ limit: 10 });
       client.close();
       console.log(JSON.stringify({ id: stored.id, loaded: messages.map((m) => m.content), codes: Object.keys(ERROR_CODES).length, pattern: MESSAGE_ID_PATTERN.test(stored.id) }));`,
    );
    const result = JSON.parse(await inProject(process.execPath, ["esm.mjs", server.url]));
    expect(result).toMatchObject({ loaded: ["from the packed ESM build"], pattern: true });
    expect(result.codes).toBeGreaterThan(0);
    expect((await server.app.store.load("package_esm_user", {})).messages.map((m) => m.id)).toEqual([result.id]);
  });

  it("stores a message from Node CommonJS (require)", async () => {
    write(
      "cjs.cjs",
      `const { connect, ScrollbackError } = require("@scrollback/client");
       const client = connect(process.argv[2], { userId: "package_cjs_user" });
       client.add({ content: "from the packed CJS build" }).then((message) => {
         client.close();
         console.log(JSON.stringify({ content: message.content, error: typeof ScrollbackError }));
       });`,
    );
    expect(JSON.parse(await inProject(process.execPath, ["cjs.cjs", server.url]))).toEqual({
      content: "from the packed CJS build",
      error: "function",
    });
  });

  it("./protocol/schemas asks for zod, which the installer adds", async () => {
    write("schemas.mjs", `await import("@scrollback/client/protocol/schemas");`);
    await expect(inProject(process.execPath, ["schemas.mjs"])).rejects.toThrow(/Cannot find (package|module) 'zod'/);
  });

  it("./react asks for react, which the installer adds; then useScrollback renders a client's snapshot from ESM and CJS", async () => {
    write("react.mjs", `await import("@scrollback/client/react");`);
    await expect(inProject(process.execPath, ["react.mjs"])).rejects.toThrow(/Cannot find (package|module) 'react'/);
    // The versions this repository tests with (already in npm's cache).
    const version = (name: string) =>
      (JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
    await inProject("npm", [
      "install",
      `react@${version("react")}`,
      `react-dom@${version("react-dom")}`,
      "--no-save",
      "--no-audit",
      "--no-fund",
      "--prefer-offline",
      "--loglevel=error",
    ]);
    // Server rendering runs the hook for real: useSyncExternalStore with the client's snapshot.
    const page = (load: string) => `${load}
      const client = connect(process.argv[2], { userId: "package_react_user" });
      function Status() {
        const snapshot = useScrollback(client);
        return createElement("p", null, snapshot.status + ":" + snapshot.messages.length + ":" + snapshot.pending.length);
      }
      function Empty() {
        return createElement("p", null, useScrollback(null).status);
      }
      client.add({ id: "pending-one", content: "x" }).catch(() => {});
      console.log(renderToString(createElement(Status)) + renderToString(createElement(Empty)));
      client.close();`;
    write(
      "react-esm.mjs",
      page(`import { connect } from "@scrollback/client";
        import { useScrollback } from "@scrollback/client/react";
        import { createElement } from "react";
        import { renderToString } from "react-dom/server";`),
    );
    write(
      "react-cjs.cjs",
      page(`const { connect } = require("@scrollback/client");
        const { useScrollback } = require("@scrollback/client/react");
        const { createElement } = require("react");
        const { renderToString } = require("react-dom/server");`),
    );
    for (const file of ["react-esm.mjs", "react-cjs.cjs"]) {
      expect(await inProject(process.execPath, [file, server.url]), file).toBe("<p>connecting:0:1</p><p>offline</p>");
    }
  }, 120_000);

  it("type-checks with moduleResolution node16 (ESM and CJS) and bundler", async () => {
    const usage = (from: string) => `
      import { connect, ScrollbackError, type Message, type ScrollbackSnapshot } from "${from}";
      import { useScrollback } from "${from}/react";
      import { ERROR_CODES } from "${from}/protocol";
      const client = connect("http://localhost:3000", { userId: "typed_user", ackTimeoutMs: 5_000 });
      const stored: Promise<Message> = client.add({ content: "typed" });
      const code: string = ERROR_CODES.TOO_LARGE;
      // @ts-expect-error: not an event the client emits (real types, not any)
      client.on("no-such-event", () => {});
      // @ts-expect-error: content is a string
      void client.add({ content: 42 });
      export const useView = (): ScrollbackSnapshot => useScrollback(client);
      const pendingState: "queued" | "sending" | "failed" | undefined = client.getSnapshot().pending[0]?.state;
      // @ts-expect-error: the snapshot is read-only
      client.getSnapshot().messages.push(stored as never);
      export const checks = [stored, code, ScrollbackError, pendingState];
    `;
    write("typed.mts", usage("@scrollback/client"));
    write("typed.cts", usage("@scrollback/client"));
    write("typed.ts", usage("@scrollback/client"));
    // A page that loads the IIFE bundle with a <script> tag.
    write(
      "page.ts",
      `/// <reference types="@scrollback/client/browser/iife" />\nexport const client = Scrollback.connect("/", { userId: "page_user" });\n`,
    );
    write(
      "module.ts",
      `import { connect } from "@scrollback/client/browser";\nexport const client = connect("/", { userId: "module_user" });\n`,
    );
    const options = { strict: true, noEmit: true, skipLibCheck: false, types: [], lib: ["ES2022", "DOM"], target: "ES2022" };
    write(
      "tsconfig.node16.json",
      JSON.stringify({ compilerOptions: { ...options, module: "node16", moduleResolution: "node16" }, files: ["typed.mts", "typed.cts"] }),
    );
    write(
      "tsconfig.bundler.json",
      JSON.stringify({
        compilerOptions: { ...options, module: "esnext", moduleResolution: "bundler" },
        files: ["typed.ts", "page.ts", "module.ts"],
      }),
    );
    const typeCheck = (config: string) =>
      inProject(process.execPath, [TSC, "-p", config, "--listFiles"]).catch((error: { stdout?: string }) => {
        throw new Error(`tsc -p ${config} failed:\n${error.stdout}`);
      });
    const node16 = await typeCheck("tsconfig.node16.json");
    // The .cts file's `import` is a require: it must read the CommonJS declarations.
    expect(node16).toContain("@scrollback/client/dist/types/index.d.cts");
    expect(node16).toContain("@scrollback/client/dist/types/index.d.ts");
    expect(node16).toContain("@scrollback/client/dist/types/react.d.cts");
    expect(node16).toContain("@scrollback/client/dist/types/react.d.ts");
    const bundler = await typeCheck("tsconfig.bundler.json");
    expect(bundler).toContain("@scrollback/client/dist/types/browser/iife.d.ts");
  }, 180_000);

  it("bundles for browsers with esbuild, carrying socket.io-client and no zod", async () => {
    write("app.js", `import { connect } from "@scrollback/client";\nwindow.client = connect("/", { userId: "bundled_user" });\n`);
    const result = await build({
      entryPoints: [join(project, "app.js")],
      absWorkingDir: project,
      bundle: true,
      write: false,
      metafile: true,
      platform: "browser",
      format: "esm",
      minify: true,
      logLevel: "silent",
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((input) => input.startsWith("node_modules/@scrollback/client/dist/"))).toBe(true);
    expect(inputs.filter((input) => /[\\/]zod[\\/]/.test(input))).toEqual([]);
    const code = result.outputFiles[0]!.text;
    expect(code).toContain("engine.io");
    expect(code).not.toMatch(/ZodError|\$ZodType/);
  });

  it("passes publint and @arethetypeswrong/cli (node10, node16 CJS and ESM, bundler), ./react included", async () => {
    const lint = async (tool: string, args: string[]) =>
      run(join(BIN, tool), args, { cwd: temp, env: { ...CLEAN_ENV, NO_COLOR: "1" } }).catch(
        (error: { stdout?: string; stderr?: string }) => {
          throw new Error(`${tool} ${args.join(" ")} failed:\n${error.stdout}${error.stderr}`);
        },
      );
    await lint("publint", ["run", tarball, "--strict"]);
    // Every entry point under the strict profile, except the browser bundles:
    // those are ES modules and a classic script, which `require` has no use for.
    await lint("attw", [tarball, "--exclude-entrypoints", "./browser", "./browser/iife", "--format", "table-flipped"]);
    await lint("attw", [tarball, "--entrypoints", "./browser", "./browser/iife", "--profile", "esm-only", "--format", "table-flipped"]);
  }, 180_000);
});
