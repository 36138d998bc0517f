/** The CLI's view of replicas: one per address behind a name, and the /metrics text it reads. */
import { describe, expect, it } from "vitest";
import { parsePrometheusText, sumSamples } from "../../server/src/cli/prometheus-text.js";
import { expandReplicaUrls } from "../../server/src/cli/replicas.js";

describe("expandReplicaUrls", () => {
  const lookup = async (host: string) => {
    const table: Record<string, { address: string; family: number }[]> = {
      scrollback: [
        { address: "172.18.0.3", family: 4 },
        { address: "172.18.0.4", family: 4 },
        { address: "fd00::3", family: 6 },
      ],
      single: [{ address: "172.18.0.9", family: 4 }],
      v6only: [
        { address: "fd00::1", family: 6 },
        { address: "fd00::2", family: 6 },
      ],
    };
    const found = table[host];
    if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
    return found;
  };

  it("turns a name with several addresses (a scaled Compose service) into one URL per IPv4 address", async () => {
    expect(await expandReplicaUrls(["http://scrollback:3000"], lookup)).toEqual(["http://172.18.0.3:3000", "http://172.18.0.4:3000"]);
    expect(await expandReplicaUrls(["http://v6only:3000/"], lookup)).toEqual(["http://[fd00::1]:3000", "http://[fd00::2]:3000"]);
  });

  it("keeps addresses, localhost, single-address and unknown names as given", async () => {
    expect(
      await expandReplicaUrls(["http://127.0.0.1:3000", "http://localhost:3001/", "http://single:3000", "http://nowhere:3000"], lookup),
    ).toEqual(["http://127.0.0.1:3000", "http://localhost:3001", "http://single:3000", "http://nowhere:3000"]);
  });
});

describe("parsePrometheusText", () => {
  const text = [
    "# HELP scrollback_events_total Client events by name and outcome",
    "# TYPE scrollback_events_total counter",
    'scrollback_events_total{event="message:add",outcome="ok"} 7',
    'scrollback_events_total{event="message:add",outcome="INVALID_PAYLOAD"} 2',
    'scrollback_events_total{event="history:load",outcome="ok"} 3 1700000000000',
    'odd_label{text="a \\"quoted\\" value, with a comma"} 1',
    "scrollback_connections 4",
    "",
  ].join("\n");

  it("reads names, labels (escapes included) and values, skipping comments and timestamps", () => {
    const samples = parsePrometheusText(text);
    expect(samples).toHaveLength(5);
    expect(samples[3]).toEqual({ name: "odd_label", labels: { text: 'a "quoted" value, with a comma' }, value: 1 });
    expect(samples[2]!.value).toBe(3);
  });

  it("sums the samples matching a name and labels", () => {
    const samples = parsePrometheusText(text);
    expect(sumSamples(samples, "scrollback_events_total")).toBe(12);
    expect(sumSamples(samples, "scrollback_events_total", { event: "message:add", outcome: "ok" })).toBe(7);
    expect(sumSamples(samples, "scrollback_connections")).toBe(4);
    expect(sumSamples(samples, "scrollback_missing")).toBeUndefined();
  });
});
