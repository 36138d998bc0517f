/**
 * The Grafana dashboard (deploy/grafana/dashboards/scrollback.json) queries
 * only series and labels that a live scrollback server really exports on
 * /metrics, so no panel stays empty because of a typo or a renamed metric.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { parsePrometheusText, type Sample } from "../../server/src/cli/prometheus-text.js";
import { connect, request, type TestSocket } from "../support/clients.js";
import { startServer, type TestServer } from "../support/servers.js";

const read = (path: string) => readFileSync(fileURLToPath(new URL(`../../${path}`, import.meta.url)), "utf8");
const dashboard = JSON.parse(read("deploy/grafana/dashboards/scrollback.json"));
/** Labels Prometheus adds to every scraped series. */
const SCRAPE_LABELS = new Set(["instance", "job"]);
/** Series names a query reads: scrollback's own and prom-client's standard process_* / nodejs_* ones. */
const SERIES = "(?:scrollback|process|nodejs)_[a-zA-Z0-9_]+";
const seriesIn = (expr: string) => [...expr.matchAll(new RegExp(String.raw`\b(${SERIES})`, "g"))].map((match) => match[1]!);

let redis: RedisServer;
let server: TestServer;
let samples: Sample[];

beforeAll(async () => {
  redis = await startRedis();
  server = await startServer({ STORE: "redis", REDIS_URL: redis.url, SERVICE_TOKEN: "token" });
  // Traffic that makes every labelled series appear: ok and refused events, API calls, a skipped element.
  const socket: TestSocket = await connect(server.url, { userId: "dash_user" });
  expect((await request(socket, "message:add", { content: "hello" })).ok).toBe(true);
  expect((await request(socket, "message:add", { content: "" })).ok).toBe(false);
  const post = await fetch(`${server.url}/api/v1/users/dash_user/messages`, {
    method: "POST",
    headers: { authorization: "Bearer token", "content-type": "application/json" },
    body: JSON.stringify({ content: "from a backend" }),
  });
  expect(post.status).toBe(201);
  // Refusals before any handler are timed too: a missing token, an unknown path.
  expect((await fetch(`${server.url}/api/v1/users/dash_user/messages`)).status).toBe(401);
  expect((await fetch(`${server.url}/no/such/page`)).status).toBe(404);
  await redis.client().rpush("temp_memory:dash_user:messages", "garbage");
  expect((await request(socket, "history:load", {})).ok).toBe(true);
  socket.close();
  samples = parsePrometheusText(await (await fetch(`${server.url}/metrics`)).text());
});
afterAll(async () => {
  await server.close();
  await redis.stop();
});

interface Query {
  where: string;
  expr: string;
}

/** Every PromQL expression in the dashboard: panel targets and template variable queries. */
function queries(): Query[] {
  const found: Query[] = [];
  for (const panel of dashboard.panels) {
    for (const target of panel.targets ?? []) found.push({ where: `panel "${panel.title}" ${target.refId}`, expr: target.expr });
  }
  for (const variable of dashboard.templating.list) {
    if (variable.type === "query") found.push({ where: `variable $${variable.name}`, expr: variable.definition });
  }
  return found;
}

function labelsOf(name: string): Set<string> {
  return new Set(samples.filter((sample) => sample.name === name).flatMap((sample) => Object.keys(sample.labels)));
}

describe("the Grafana dashboard", () => {
  it("queries something", () => {
    expect(queries().length).toBeGreaterThan(10);
  });

  it("queries only series a live server exports", () => {
    const exported = new Set(samples.map((sample) => sample.name));
    for (const { where, expr } of queries()) {
      const names = seriesIn(expr);
      expect(names.length, `${where} queries no known series`).toBeGreaterThan(0);
      for (const name of names) expect(exported.has(name), `${where}: ${name} is not on /metrics`).toBe(true);
    }
  });

  it("selects and groups by labels those series carry, with values they take", () => {
    for (const { where, expr } of queries()) {
      const names = seriesIn(expr);
      const known = new Set([...SCRAPE_LABELS, ...names.flatMap((name) => [...labelsOf(name)])]);
      // Matchers inside name{...}: label op "value".
      for (const [, name, body] of expr.matchAll(new RegExp(String.raw`(${SERIES})\{([^}]*)\}`, "g"))) {
        for (const [, label, op, value] of body!.matchAll(/([a-zA-Z_]+)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)) {
          if (SCRAPE_LABELS.has(label!)) continue;
          expect(labelsOf(name!).has(label!), `${where}: ${name} has no label ${label}`).toBe(true);
          if (op === "=" && !value!.includes("$")) {
            const taken = samples.some((sample) => sample.name === name && sample.labels[label!] === value);
            expect(taken, `${where}: no ${name} sample with ${label}="${value}"`).toBe(true);
          }
        }
      }
      for (const [, list] of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) {
        for (const label of list!
          .split(",")
          .map((entry) => entry.trim())
          .filter(Boolean)) {
          expect(known.has(label), `${where}: groups by ${label}, which none of its series carries`).toBe(true);
        }
      }
      for (const [, label] of expr.matchAll(/label_values\([^,]+,\s*([a-zA-Z_]+)\)/g)) expect(known.has(label!)).toBe(true);
    }
  });

  it("is a well-formed dashboard model using its data source variable", () => {
    const ids = dashboard.panels.map((panel: { id: number }) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    for (const panel of dashboard.panels) {
      expect(panel.gridPos.x + panel.gridPos.w).toBeLessThanOrEqual(24);
      if (panel.type === "row") continue;
      // biome-ignore lint/suspicious/noTemplateCurlyInString: "${datasource}" is Grafana's variable syntax, written literally in the dashboard
      expect(panel.datasource).toEqual({ type: "prometheus", uid: "${datasource}" });
      expect(panel.targets.length).toBeGreaterThan(0);
    }
    expect(dashboard.templating.list.map((variable: { name: string }) => variable.name)).toEqual(["datasource", "instance"]);
  });

  it("is what the Compose stack provisions, fed by a Prometheus that scrapes every replica", () => {
    const provider = parseYaml(read("deploy/grafana/provisioning/dashboards/scrollback.yml"));
    expect(provider.providers[0].options.path).toBe("/var/lib/grafana/dashboards");
    expect(read("docker-compose.yml")).toContain("./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro");
    const datasource = parseYaml(read("deploy/grafana/provisioning/datasources/prometheus.yml")).datasources[0];
    expect(datasource).toMatchObject({ type: "prometheus", url: "http://prometheus:9090" });
    const scrape = parseYaml(read("deploy/prometheus/prometheus.yml")).scrape_configs[0];
    expect(scrape.metrics_path).toBe("/metrics");
    expect(scrape.dns_sd_configs[0]).toMatchObject({ names: ["scrollback"], type: "A", port: 3000 });
  });
});
