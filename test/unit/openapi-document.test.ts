/**
 * docs/openapi.json is what the code generates, describes exactly the routes
 * the server registers (api-routes.ts is the one table), and its examples
 * are valid requests. test/integration/openapi.test.ts sends them to a real server.
 */
import { readFileSync } from "node:fs";
import { addMessageSchema, limitSchema, messageIdSchema, searchHistorySchema, userIdSchema } from "@scrollback/client/protocol/schemas";
import pino from "pino";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { assembleHistory } from "../../server/src/history-assembly.js";
import { API_ROUTES, openApiPath } from "../../server/src/http/api-routes.js";
import { openApiDocument, openApiText, ROUTE_ANSWERS } from "../../server/src/http/openapi.js";
import { createServiceApiRouter } from "../../server/src/http/service-api.js";
import { createMetrics } from "../../server/src/metrics.js";
import { MemoryStore } from "../../server/src/store/memory-store.js";

type Operation = {
  operationId: string;
  security?: unknown[];
  responses: Record<string, { content?: Record<string, { example?: unknown }> }>;
  parameters?: { name: string; in: string; example: unknown }[];
  requestBody?: { content: Record<string, { example?: unknown }> };
};
const document = openApiDocument() as { openapi: string; paths: Record<string, Record<string, Operation>> };
const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
  Object.entries(methods).map(([method, operation]) => ({ path, method, operation })),
);

describe("docs/openapi.json", () => {
  it("is what the code generates", () => {
    const committed = readFileSync(new URL("../../docs/openapi.json", import.meta.url), "utf8");
    expect(
      committed === openApiText(),
      "docs/openapi.json differs from server/src/http/openapi.ts: run `npm run openapi` and commit the file",
    ).toBe(true);
  });

  it("is OpenAPI 3.1 whose every $ref resolves", () => {
    expect(document.openapi).toBe("3.1.0");
    const refs = [...openApiText().matchAll(/"\$ref": "#\/([^"]+)"/g)].map((match) => match[1]!);
    expect(refs.length).toBeGreaterThan(5);
    for (const ref of new Set(refs)) {
      const target = ref.split("/").reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], document);
      expect(target, ref).toBeTypeOf("object");
    }
  });

  it("names each operation once; /api/v1 takes the bearer token, /healthz and /readyz none", () => {
    const ids = operations.map(({ operation }) => operation.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(openApiDocument()).toMatchObject({
      security: [{ serviceToken: [] }],
      components: { securitySchemes: { serviceToken: { type: "http", scheme: "bearer" } } },
    });
    for (const { path, operation } of operations)
      expect({ path, security: operation.security }).toEqual({ path, security: path.startsWith("/api/v1/") ? undefined : [] });
  });
});

describe("the route table", () => {
  it("is exactly the /api/v1 paths and methods of the document, plus /healthz and /readyz", () => {
    const documented = operations.map(({ path, method }) => `${method} ${path}`).sort();
    const routes = API_ROUTES.map((route) => `${route.method} ${openApiPath(route.path)}`);
    expect(documented).toEqual([...routes, "get /healthz", "get /readyz"].sort());
  });

  it("is exactly what the service API router registers", () => {
    const metrics = createMetrics();
    const store = new MemoryStore({ historyMax: 15, historyTtlSeconds: 60, onSkippedElements: () => {} });
    const service = assembleHistory({ store, metrics, maxMessageBytes: 100, maxMetaBytes: 100, keyPrefix: "unit", io: () => undefined });
    const router = createServiceApiRouter({
      service,
      metrics,
      logger: pino({ level: "silent" }),
      serviceToken: "token",
      bodyLimitBytes: 1_000,
    });
    const registered = router.stack.flatMap((layer) =>
      layer.route ? [...new Set(layer.route.stack.map((handler) => `${handler.method} ${layer.route!.path}`))] : [],
    );
    expect(registered.sort()).toEqual(API_ROUTES.map((route) => `${route.method} ${route.path}`).sort());
  });
});

describe("the document's examples", () => {
  // The zod schema each parameter is read with (service-api.ts: userId by its schema, the query as history:load / history:search payload fields).
  const parameterSchemas: Record<string, z.ZodType> = {
    userId: userIdSchema,
    limit: limitSchema,
    afterId: messageIdSchema,
    id: messageIdSchema,
    q: searchHistorySchema.shape.query,
  };

  it.each(
    operations
      .filter(({ operation }) => operation.parameters)
      .map(({ path, method, operation }) => [`${method} ${path}`, operation] as const),
  )("%s: every parameter has an example its schema accepts", (_name, operation) => {
    for (const parameter of operation.parameters!) {
      expect(parameter.example, parameter.name).toBeDefined();
      expect(parameterSchemas[parameter.name]!.safeParse(parameter.example).success, parameter.name).toBe(true);
    }
  });

  it("the request body of POST is a valid message:add payload", () => {
    const post = document.paths["/api/v1/users/{userId}/messages"]!.post!;
    const example = post.requestBody!.content["application/json"]!.example;
    expect(example).toBeDefined();
    expect(addMessageSchema.safeParse(example).success).toBe(true);
  });

  it.each(API_ROUTES.map((route) => [`${route.method} ${route.path}`, route] as const))(
    "%s: its success examples are answers of the documented shape",
    (_name, route) => {
      const operation = document.paths[openApiPath(route.path)]![route.method]!;
      const examples = Object.entries(operation.responses)
        .filter(([status]) => status.startsWith("2"))
        .map(([status, response]) => [status, response.content?.["application/json"]?.example] as const)
        .filter(([, example]) => example !== undefined);
      if (route.name !== "openapi") expect(examples.length).toBeGreaterThan(0);
      for (const [status, example] of examples) expect(ROUTE_ANSWERS[route.name].safeParse(example).success, status).toBe(true);
    },
  );
});
