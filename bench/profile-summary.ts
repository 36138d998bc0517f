/**
 * Where the time goes: reads a V8 `.cpuprofile` (from `npm run bench --
 * --profile DIR`) and prints self time by package/file and the heaviest
 * functions by self and by total time.
 *
 *   node --import tsx bench/profile-summary.ts DIR/add-scrollback-0.cpuprofile [--top 30]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
}

/** `node_modules/<pkg>` (scoped too), our own source file, or node's internals. */
function area(url: string): string {
  if (url === "") return "(v8: gc, idle, program)";
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1]!;
  if (url.startsWith("node:")) return url;
  const own = /\/(server\/src\/.*|client-sdk\/src\/.*|bench\/.*)$/.exec(url);
  return own ? own[1]! : url;
}

export function summarise(profile: Profile, top: number): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const totalSamples = profile.samples.length;
  const share = (count: number) => `${((100 * count) / totalSamples).toFixed(1).padStart(5)} %`;

  const selfByArea = new Map<string, number>();
  const selfByFunction = new Map<string, number>();
  const totalByFunction = new Map<string, number>();
  const label = (node: ProfileNode) =>
    `${node.callFrame.functionName || "(anonymous)"} ${area(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;

  // Total time per function: count each function once per stack, so recursion is not double counted.
  const walk = (node: ProfileNode, onStack: Set<string>): number => {
    const self = node.hitCount ?? 0;
    const key = label(node);
    selfByArea.set(area(node.callFrame.url), (selfByArea.get(area(node.callFrame.url)) ?? 0) + self);
    selfByFunction.set(key, (selfByFunction.get(key) ?? 0) + self);
    const fresh = !onStack.has(key);
    if (fresh) onStack.add(key);
    let total = self;
    for (const child of node.children ?? []) total += walk(byId.get(child)!, onStack);
    if (fresh) {
      onStack.delete(key);
      totalByFunction.set(key, (totalByFunction.get(key) ?? 0) + total);
    }
    return total;
  };
  walk(profile.nodes[0]!, new Set());

  const sorted = (map: Map<string, number>) => [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  const seconds = (profile.endTime - profile.startTime) / 1e6;
  return [
    `${totalSamples} samples over ${seconds.toFixed(1)} s`,
    "",
    "self time by package / file:",
    ...sorted(selfByArea).map(([name, count]) => `  ${share(count)}  ${name}`),
    "",
    "self time by function:",
    ...sorted(selfByFunction).map(([name, count]) => `  ${share(count)}  ${name}`),
    "",
    "total time by function:",
    ...sorted(totalByFunction).map(([name, count]) => `  ${share(count)}  ${name}`),
  ].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: "string", default: "30" } } });
  for (const file of positionals) {
    console.log(`== ${file}`);
    console.log(summarise(JSON.parse(readFileSync(file, "utf8")) as Profile, Number(values.top)));
  }
}
