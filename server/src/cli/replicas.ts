/**
 * Asking the replicas how they are: each one's /metrics. A replica URL whose
 * host name resolves to several addresses (a scaled Compose service, a
 * headless Kubernetes service) stands for one replica per address.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import { isIP } from "node:net";
import { parsePrometheusText, sumSamples } from "./prometheus-text.js";

/** How long one replica has to answer. */
const REPLICA_TIMEOUT_MS = 2_000;

export interface ReplicaStats {
  /** The URL asked (with the address it resolved to, when a name stood for several). */
  url: string;
  ok: boolean;
  /** Open Socket.IO connections (scrollback_connections). */
  connections?: number;
  /** Whether the replica's store answers (scrollback_store_up; scrollback_redis_up from replicas older than it). */
  redisUp?: boolean;
  /** Messages stored through this replica since it started (message:add and POST, duplicates not counted). */
  messagesAdded?: number;
  error?: string;
}

type Lookup = (host: string) => Promise<{ address: string; family: number }[]>;

const lookupAll: Lookup = (host) => dnsLookup(host, { all: true });

/**
 * The replica URLs behind `urls`: a host name with several IPv4 (else IPv6)
 * addresses becomes one URL per address; anything else stays as given.
 */
export async function expandReplicaUrls(urls: readonly string[], lookup: Lookup = lookupAll): Promise<string[]> {
  const expanded: string[] = [];
  for (const raw of urls) {
    const url = new URL(raw);
    const host = url.hostname.replace(/^\[|\]$/g, "");
    if (isIP(host) || host === "localhost") {
      expanded.push(url.origin);
      continue;
    }
    let addresses: { address: string; family: number }[];
    try {
      addresses = await lookup(host);
    } catch {
      expanded.push(url.origin); // fetching it will report the failure
      continue;
    }
    const v4 = addresses.filter((entry) => entry.family === 4);
    const chosen = [...new Set((v4.length > 0 ? v4 : addresses).map((entry) => entry.address))];
    if (chosen.length <= 1) {
      expanded.push(url.origin);
      continue;
    }
    for (const address of chosen) {
      const each = new URL(url.origin);
      each.hostname = address.includes(":") ? `[${address}]` : address;
      expanded.push(each.origin);
    }
  }
  return expanded;
}

/** One replica's figures from its /metrics; never throws. */
export async function fetchReplicaStats(baseUrl: string): Promise<ReplicaStats> {
  try {
    const response = await fetch(new URL("/metrics", baseUrl), { signal: AbortSignal.timeout(REPLICA_TIMEOUT_MS) });
    if (!response.ok) return { url: baseUrl, ok: false, error: `/metrics answered ${response.status}` };
    const samples = parsePrometheusText(await response.text());
    const redisUp = sumSamples(samples, "scrollback_store_up") ?? sumSamples(samples, "scrollback_redis_up");
    return {
      url: baseUrl,
      ok: true,
      connections: sumSamples(samples, "scrollback_connections") ?? 0,
      redisUp: redisUp === undefined ? undefined : redisUp >= 1,
      messagesAdded:
        (sumSamples(samples, "scrollback_events_total", { event: "message:add", outcome: "ok" }) ?? 0) +
        (sumSamples(samples, "scrollback_http_requests_total", { route: "add", status: "201" }) ?? 0),
    };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return { url: baseUrl, ok: false, error: cause ?? (error instanceof Error ? error.message : String(error)) };
  }
}
