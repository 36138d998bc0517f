/**
 * OpenTelemetry: a traced replica gives each operation one trace — the
 * client event as root, the store call (the Lua write) and the fan-out as its
 * children — recorded here by an in-memory exporter behind the same
 * startTracing() main.ts uses; an untraced replica records nothing; and
 * OTEL_TRACING=otlp sends real OTLP/HTTP to a collector.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { createApp, type ScrollbackApp } from "../../server/src/app.js";
import { ConfigError, loadConfig } from "../../server/src/config.js";
import { startTracing, type Tracing } from "../../server/src/tracing.js";
import { connect, nextEvent, request, requestOk, type TestSocket } from "../support/clients.js";
import { spawnServer, startServer, type TestServer } from "../support/servers.js";

const TOKEN = "trace-token";
const exporter = new InMemorySpanExporter();
let tracing: Tracing;
let redis: RedisServer;
let traced: ScrollbackApp;
let tracedUrl: string;
let plain: TestServer;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  redis = await startRedis();
  tracing = await startTracing(
    { exporter: "otlp", serviceName: "scrollback-test" },
    { spanProcessor: new SimpleSpanProcessor({ exporter }) },
  );
  const env = {
    HOST: "127.0.0.1",
    PORT: "0",
    LOG_LEVEL: "silent",
    RATE_LIMIT_PER_SECOND: "0",
    STORE: "redis",
    REDIS_URL: redis.url,
    SERVICE_TOKEN: TOKEN,
  };
  traced = await createApp(loadConfig(env), pino({ level: "silent" }), { tracer: tracing.tracer });
  tracedUrl = `http://127.0.0.1:${await traced.listen()}`;
  plain = await startServer({ STORE: "redis", REDIS_URL: redis.url });
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await traced.close(1_000);
  await plain.close();
  await tracing.shutdown();
  await redis.stop();
});

async function socketOn(url: string, userId: string): Promise<TestSocket> {
  const socket = await connect(url, { userId });
  sockets.push(socket);
  return socket;
}

const spanId = (span: ReadableSpan) => span.spanContext().spanId;
const childrenOf = (parent: ReadableSpan) =>
  exporter.getFinishedSpans().filter((span) => span.parentSpanContext?.spanId === spanId(parent));
// In the order they ended (the exporter receives each span as it ends).
const rootsNamed = (name: string) =>
  exporter.getFinishedSpans().filter((span) => span.name === name && span.parentSpanContext === undefined);

describe("a traced replica", () => {
  it("traces message:add from the socket through the Lua write to the fan-out that reaches another replica", async () => {
    exporter.reset();
    const tab = await socketOn(tracedUrl, "trace_alice");
    const otherTab = await socketOn(plain.url, "trace_alice");
    const delivered = nextEvent(otherTab, "message:new");
    const ack = await requestOk(tab, "message:add", { content: "traced" });
    expect(ack.ok).toBe(true);
    expect((await delivered).id).toBe(ack.message.id);

    const [root, ...others] = rootsNamed("message:add");
    expect(others).toEqual([]);
    expect(root!.kind).toBe(SpanKind.SERVER);
    expect(root!.attributes).toMatchObject({ "scrollback.transport": "socket.io", "scrollback.outcome": "ok" });
    expect(root!.resource.attributes["service.name"]).toBe("scrollback-test");

    const [store, fanout, ...rest] = childrenOf(root!);
    expect(rest).toEqual([]);
    expect(store!.name).toBe("scrollback.store.append");
    expect(store!.kind).toBe(SpanKind.CLIENT);
    expect(store!.attributes).toMatchObject({
      "db.system": "redis",
      "db.operation.name": "EVALSHA appendMessage",
      "scrollback.message_id": ack.message.id,
      "scrollback.duplicate": false,
    });
    expect(fanout!.name).toBe("scrollback.fanout");
    expect(fanout!.kind).toBe(SpanKind.PRODUCER);
    expect(fanout!.attributes).toMatchObject({ "scrollback.event": "message:new", "scrollback.message_id": ack.message.id });
    for (const child of [store!, fanout!]) expect(child.spanContext().traceId).toBe(root!.spanContext().traceId);
    // Spans are exported as they end: the write ends, then the fan-out, then the event's span.
    // (Their timestamps come from separately anchored clocks, too coarse to order sub-millisecond steps.)
    expect(exporter.getFinishedSpans().map((span) => span.name)).toEqual(["scrollback.store.append", "scrollback.fanout", "message:add"]);
  });

  it("gives every operation its own trace: a duplicate has no fan-out, a refused payload no store call", async () => {
    exporter.reset();
    const tab = await socketOn(tracedUrl, "trace_bob");
    expect((await request(tab, "message:add", { id: "same-id", content: "once" })).ok).toBe(true);
    expect((await requestOk(tab, "message:add", { id: "same-id", content: "once" })).duplicate).toBe(true);
    expect((await request(tab, "message:add", { content: "" })).ok).toBe(false);
    expect((await request(tab, "history:load", {})).ok).toBe(true);

    const adds = rootsNamed("message:add");
    expect(adds).toHaveLength(3);
    const traceIds = new Set(adds.map((span) => span.spanContext().traceId));
    expect(traceIds.size).toBe(3);
    const [first, duplicate, refused] = adds;
    expect(
      childrenOf(first!)
        .map((span) => span.name)
        .sort(),
    ).toEqual(["scrollback.fanout", "scrollback.store.append"]);
    expect(childrenOf(duplicate!).map((span) => span.name)).toEqual(["scrollback.store.append"]);
    expect(childrenOf(duplicate!)[0]!.attributes["scrollback.duplicate"]).toBe(true);
    expect(childrenOf(refused!)).toEqual([]);
    // A refused request is the client's error, not the server's: recorded, not marked as a failure.
    expect(refused!.attributes["scrollback.outcome"]).toBe("INVALID_PAYLOAD");
    expect(refused!.status.code).toBe(SpanStatusCode.UNSET);

    const [load] = rootsNamed("history:load");
    expect(childrenOf(load!).map((span) => [span.name, span.attributes["scrollback.messages"]])).toEqual([["scrollback.store.load", 1]]);
  });

  it("traces the HTTP API's adds the same way", async () => {
    exporter.reset();
    const response = await fetch(`${tracedUrl}/api/v1/users/trace_carol/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ role: "assistant", content: "from a backend" }),
    });
    expect(response.status).toBe(201);
    const [root] = rootsNamed("message:add");
    expect(root!.attributes["scrollback.transport"]).toBeUndefined();
    expect(
      childrenOf(root!)
        .map((span) => span.name)
        .sort(),
    ).toEqual(["scrollback.fanout", "scrollback.store.append"]);
  });
});

describe("an untraced replica (the default)", () => {
  it("records no span, even with a tracer provider registered in its process", async () => {
    exporter.reset();
    const tab = await socketOn(plain.url, "trace_dave");
    expect((await request(tab, "message:add", { content: "not traced" })).ok).toBe(true);
    expect((await request(tab, "history:load", {})).ok).toBe(true);
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});

/** The parts of an OTLP/HTTP JSON trace export (ExportTraceServiceRequest) the collector below reads. */
interface OtlpTraceExport {
  resourceSpans: { resource: { attributes: OtlpAttribute[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
}
interface OtlpAttribute {
  key: string;
  value: { stringValue?: string };
}
interface OtlpSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: OtlpAttribute[];
}

describe("OTEL_* settings", () => {
  it("are off by default and accept otlp, console and 1/0", () => {
    expect(loadConfig({}).tracing).toBeUndefined();
    expect(loadConfig({ OTEL_TRACING: "0" }).tracing).toBeUndefined();
    expect(loadConfig({ OTEL_TRACING: "1" }).tracing).toEqual({ exporter: "otlp", serviceName: "scrollback", endpoint: undefined });
    expect(loadConfig({ OTEL_TRACING: "console", OTEL_SERVICE_NAME: "chat" }).tracing).toMatchObject({
      exporter: "console",
      serviceName: "chat",
    });
    expect(loadConfig({ OTEL_TRACING: "otlp", OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }).tracing?.endpoint).toBe(
      "http://collector:4318",
    );
  });

  it("name the variable when invalid", () => {
    expect(() => loadConfig({ OTEL_TRACING: "jaeger" })).toThrow(ConfigError);
    expect(() => loadConfig({ OTEL_TRACING: "jaeger" })).toThrow(/OTEL_TRACING/);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "not a url" })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
  });

  it("OTEL_TRACING=otlp sends the spans of a message:add as OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT", async () => {
    const received: { path: string; body: OtlpTraceExport }[] = [];
    const collector = createServer((req: IncomingMessage, res) => {
      let body = "";
      req.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      req.on("end", () => {
        received.push({ path: req.url ?? "", body: JSON.parse(body) });
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
        collector.emit("export");
      });
    });
    collector.listen(0, "127.0.0.1");
    await once(collector, "listening");
    const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    const server = await spawnServer({
      STORE: "redis",
      REDIS_URL: redis.url,
      OTEL_TRACING: "otlp",
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_SERVICE_NAME: "scrollback-otlp",
    });
    // Registered first: the batch processor may export on its own schedule before the stop.
    const exported = once(collector, "export");
    try {
      expect(server.output()).toContain('"tracing":"otlp"');
      const tab = await connect(server.url, { userId: "trace_otlp" });
      const ack = await requestOk(tab, "message:add", { content: "exported" });
      tab.close();
      // A graceful stop flushes what the batch processor still holds.
      server.process.kill("SIGTERM");
      await exported;
      expect(await server.exited).toBe(0);

      expect(received[0]!.path).toBe("/v1/traces");
      const resourceSpans = received.flatMap((request) => request.body.resourceSpans);
      const serviceNames = resourceSpans.flatMap((entry) =>
        entry.resource.attributes.filter((a) => a.key === "service.name").map((a) => a.value.stringValue),
      );
      expect(serviceNames).toContain("scrollback-otlp");
      const spans = resourceSpans.flatMap((entry) => entry.scopeSpans.flatMap((scope) => scope.spans));
      const root = spans.find((span) => span.name === "message:add")!;
      const children = spans
        .filter((span) => span.parentSpanId === root.spanId)
        .map((span) => span.name)
        .sort();
      expect(children).toEqual(["scrollback.fanout", "scrollback.store.append"]);
      const store = spans.find((span) => span.name === "scrollback.store.append")!;
      expect(store.traceId).toBe(root.traceId);
      expect(store.attributes).toContainEqual({ key: "scrollback.message_id", value: { stringValue: ack.message.id } });
    } finally {
      await server.stop();
      collector.close();
    }
  });
});
