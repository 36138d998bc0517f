/**
 * /metrics follows Prometheus's conventions (PROTOCOL.md §5): a real server
 * on the memory store, real Socket.IO events and HTTP calls, then a scrape.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parsePrometheusText, type Sample, sumSamples } from "../../server/src/cli/prometheus-text.js";
import { connect, request, requestRaw, type TestSocket } from "../support/clients.js";
import { startServer, type TestServer } from "../support/servers.js";

const VERSION: string = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version;
const TOKEN = "service-token-for-metrics";
const API = "/api/v1/users/metrics_user/messages";
let server: TestServer;
let socket: TestSocket;

async function scrape(): Promise<Sample[]> {
  const res = await fetch(`${server.url}/metrics`);
  expect(res.status).toBe(200);
  return parsePrometheusText(await res.text());
}

const value = (samples: Sample[], name: string, where: Record<string, string> = {}) => sumSamples(samples, name, where);

beforeAll(async () => {
  server = await startServer({ STORE: "memory", SERVICE_TOKEN: TOKEN, SCROLLBACK_COMMIT: "0123abc" });
  socket = await connect(server.url, { userId: "metrics_user" });
  expect((await request(socket, "message:add", { content: "hello" })).ok).toBe(true);
  expect((await request(socket, "message:add", { content: "" })).ok).toBe(false);
  expect((await request(socket, "history:load", {})).ok).toBe(true);
  const authorized = { authorization: `Bearer ${TOKEN}` };
  expect((await fetch(`${server.url}${API}`, { headers: authorized })).status).toBe(200);
  expect((await fetch(`${server.url}${API}`)).status).toBe(401);
  expect((await fetch(`${server.url}/api/v1/users/metrics_user/nothing`, { headers: authorized })).status).toBe(404);
  expect((await fetch(`${server.url}/no/such/page`)).status).toBe(404);
  const badBody = await fetch(`${server.url}${API}`, { method: "POST", headers: authorized, body: "{not json" });
  expect(badBody.status).toBe(400);
});
afterAll(async () => {
  socket?.close();
  await server?.close();
});

describe("GET /metrics", () => {
  it("exports the standard process_* and nodejs_* series, unprefixed", async () => {
    const samples = await scrape();
    expect(value(samples, "process_cpu_seconds_total")).toBeGreaterThan(0);
    expect(value(samples, "process_resident_memory_bytes")).toBeGreaterThan(10e6);
    expect(value(samples, "nodejs_heap_size_used_bytes")).toBeGreaterThan(1e6);
    expect(samples.some((sample) => sample.name.startsWith("scrollback_process_"))).toBe(false);
  });

  it("says which build runs: version from package.json, Node.js, commit from SCROLLBACK_COMMIT", async () => {
    const build = (await scrape()).filter((sample) => sample.name === "scrollback_build_info");
    expect(build).toHaveLength(1);
    expect(build[0]!.value).toBe(1);
    expect(build[0]!.labels).toEqual({ version: VERSION, node: process.version, commit: "0123abc" });
  });

  it("times each event from receipt to ack, by event and outcome", async () => {
    const samples = await scrape();
    const okAdds = value(samples, "scrollback_event_duration_seconds_count", { event: "message:add", outcome: "ok" });
    expect(okAdds).toBe(1);
    expect(value(samples, "scrollback_event_duration_seconds_count", { event: "message:add", outcome: "INVALID_PAYLOAD" })).toBe(1);
    expect(value(samples, "scrollback_event_duration_seconds_count", { event: "history:load", outcome: "ok" })).toBe(1);
    const seconds = value(samples, "scrollback_event_duration_seconds_sum", { event: "message:add", outcome: "ok" })!;
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThan(2);
    // Every observation lands in the +Inf bucket; the counter agrees with the histogram.
    expect(value(samples, "scrollback_event_duration_seconds_bucket", { event: "message:add", outcome: "ok", le: "+Inf" })).toBe(1);
    expect(value(samples, "scrollback_events_total", { event: "message:add", outcome: "ok" })).toBe(1);
    // Only outcomes that happened are exported: pre-bound series stay off /metrics until observed.
    expect(value(samples, "scrollback_event_duration_seconds_count", { event: "history:clear" })).toBeUndefined();
  });

  it("times every HTTP request by route template, method and status, refusals before the handler included", async () => {
    const samples = await scrape();
    const count = (route: string, method: string, status: string) =>
      value(samples, "scrollback_http_request_duration_seconds_count", { route, method, status });
    expect(count("/api/v1/users/:userId/messages", "GET", "200")).toBe(1);
    expect(count("/api/v1/users/:userId/messages", "GET", "401")).toBe(1);
    expect(count("/api/v1/users/:userId/messages", "POST", "400")).toBe(1);
    expect(count("/api/v1/*", "GET", "404")).toBe(1);
    expect(count("unmatched", "GET", "404")).toBe(1);
    expect(count("/metrics", "GET", "200")).toBeGreaterThanOrEqual(1);
    // No label carries the raw path, so no user id reaches Prometheus.
    const routes = samples
      .filter((sample) => sample.name.startsWith("scrollback_http_request_duration_seconds"))
      .map((sample) => sample.labels.route);
    expect(routes.some((route) => route?.includes("metrics_user"))).toBe(false);
    expect(value(samples, "scrollback_http_request_duration_seconds_sum")).toBeGreaterThan(0);
  });

  it("reports the memory store up while it answers its ping, and down once it is closed", async () => {
    let samples = await scrape();
    expect(value(samples, "scrollback_store_up")).toBe(1);
    expect(value(samples, "scrollback_redis_up")).toBe(1);
    await server.app.store.close();
    samples = await scrape();
    expect(value(samples, "scrollback_store_up")).toBe(0);
    expect(value(samples, "scrollback_redis_up")).toBe(0);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
  });

  it("does not time an event refused before its handler (unknown event) but counts it", async () => {
    const answer = await requestRaw<{ ok: boolean }>(socket, "no:such:event", {});
    expect(answer.ok).toBe(false);
    const samples = await scrape();
    expect(value(samples, "scrollback_events_total", { event: "unknown", outcome: "UNKNOWN_EVENT" })).toBe(1);
    expect(value(samples, "scrollback_event_duration_seconds_count", { outcome: "UNKNOWN_EVENT" })).toBeUndefined();
  });
});
