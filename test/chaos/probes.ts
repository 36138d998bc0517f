/** Watching a server from outside during a fault: its metrics, readiness and responsiveness. */
import { httpStatus } from "../support/wait.js";

/** The value of an unlabelled Prometheus metric, or NaN when absent. */
export async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  return match ? Number(match[1]) : Number.NaN;
}

export interface Sampler {
  /** Stops sampling; resolves with what was seen. */
  stop(): Promise<{ samples: number; worstHealthzMs: number; readyStatuses: Set<number> }>;
}

/**
 * Every `intervalMs`, times GET /healthz (the event loop answers) and records
 * what GET /readyz says, until stopped.
 */
export function sampleHealth(url: string, intervalMs = 100): Sampler {
  let running = true;
  let samples = 0;
  let worstHealthzMs = 0;
  const readyStatuses = new Set<number>();
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      const health = await httpStatus(url, "/healthz");
      const took = performance.now() - started;
      if (health !== 200) worstHealthzMs = Number.POSITIVE_INFINITY;
      worstHealthzMs = Math.max(worstHealthzMs, took);
      readyStatuses.add(await httpStatus(url, "/readyz"));
      samples++;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { samples, worstHealthzMs, readyStatuses };
    },
  };
}
