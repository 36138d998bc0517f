/**
 * docs/openapi.json against a real server: every documented path and method
 * answers its documented statuses (not the plain 404 of unknown routes) when
 * sent the document's own examples, and the answers match the documented shapes.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_ROUTES, openApiPath } from "../../server/src/http/api-routes.js";
import { openApiDocument, ROUTE_ANSWERS } from "../../server/src/http/openapi.js";
import { startServer, type TestServer } from "../support/servers.js";

const TOKEN = "openapi-test-token";
type Parameter = { name: string; in: "path" | "query"; example: unknown };
type Operation = {
  parameters?: Parameter[];
  requestBody?: { content: { "application/json": { example: unknown } } };
  responses: Record<string, unknown>;
};
const paths = (openApiDocument() as { paths: Record<string, Record<string, Operation>> }).paths;

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ STORE: "memory", SERVICE_TOKEN: TOKEN });
});
afterAll(() => server.close());

/** The request the document's examples make for `operation` on `path`. */
function exampleRequest(path: string, method: string, operation: Operation): { url: string; init: RequestInit } {
  let target = path;
  const query = new URLSearchParams();
  for (const parameter of operation.parameters ?? []) {
    if (parameter.in === "path") target = target.replace(`{${parameter.name}}`, encodeURIComponent(String(parameter.example)));
    // q turns a load into a search, which ignores afterId: the load is sent with the other examples, below.
    else if (parameter.name !== "q") query.set(parameter.name, String(parameter.example));
  }
  const body = operation.requestBody?.content["application/json"].example;
  return {
    url: `${server.url}${target}${query.size ? `?${query}` : ""}`,
    init: {
      method: method.toUpperCase(),
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    },
  };
}

describe("every documented route answers on a real server", () => {
  it.each(API_ROUTES.map((route) => [`${route.method} ${route.path}`, route] as const))(
    "%s, sent the document's examples",
    async (_name, route) => {
      const operation = paths[openApiPath(route.path)]![route.method]!;
      const { url, init } = exampleRequest(openApiPath(route.path), route.method, operation);
      const res = await fetch(url, init);
      expect(Object.keys(operation.responses)).toContain(String(res.status));
      expect(res.status).toBeLessThan(300);
      expect(ROUTE_ANSWERS[route.name].safeParse(await res.json()).success).toBe(true);
    },
  );

  it("GET with the q example searches", async () => {
    const res = await fetch(`${server.url}/api/v1/users/team_lead_001/messages?q=report&limit=15`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBe(200);
    expect(ROUTE_ANSWERS.load.parse(await res.json())).toMatchObject({ gap: false });
  });

  it.each(["/healthz", "/readyz"])("GET %s answers a documented status without a token", async (path) => {
    const res = await fetch(`${server.url}${path}`);
    expect(Object.keys(paths[path]!.get!.responses)).toContain(String(res.status));
  });

  it("serves the document at /api/v1/openapi.json, behind the token like the rest of /api/v1", async () => {
    const url = `${server.url}/api/v1/openapi.json`;
    const served = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(served.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(await served.text()).toBe(readFileSync(new URL("../../docs/openapi.json", import.meta.url), "utf8"));
    const refused = await fetch(url);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toBe("Bearer");
    const closed = await startServer({ STORE: "memory" });
    try {
      const res = await fetch(`${closed.url}/api/v1/openapi.json`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.status).toBe(404);
      expect((await res.json()).error.code).toBe("NOT_FOUND");
    } finally {
      await closed.close();
    }
  });

  it("an undocumented method on a documented path is the JSON 404 NOT_FOUND, an unknown path the plain 404", async () => {
    const res = await fetch(`${server.url}/api/v1/users/team_lead_001/messages`, {
      method: "PUT",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBe(404);
    expect((await res.json()).error.code).toBe("NOT_FOUND");
    const unknown = await fetch(`${server.url}/openapi.json`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get("content-type")).not.toContain("json");
  });
});
