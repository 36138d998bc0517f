/**
 * The bench's table: one row per figure, scrollback beside both baselines,
 * its ratio to each, and the target where there is one.
 */

import type { CaseName } from "./options.js";
import type { IdleResult, ThroughputResult } from "./results.js";
import type { Variant } from "./server-process.js";

export interface CaseResults {
  add?: Partial<Record<Variant, ThroughputResult>>;
  fanout?: Partial<Record<Variant, ThroughputResult>>;
  load?: Partial<Record<Variant, ThroughputResult>>;
  idle?: Partial<Record<Variant, IdleResult>>;
}

/** A target of the issue, checked against one figure's ratio. */
export interface TargetCheck {
  case: CaseName;
  figure: string;
  target: string;
  value: number | null;
  met: boolean | null;
}

interface Row {
  case: CaseName;
  figure: string;
  values: Partial<Record<Variant, number | null | undefined>>;
  digits: number;
  /** Targets on this row: against a baseline's value, or on scrollback's own value. */
  targets?: {
    text: string;
    check: (values: Partial<Record<Variant, number | null | undefined>>) => { value: number | null; met: boolean | null };
  }[];
}

const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  a === null || a === undefined || b === null || b === undefined || b === 0 ? null : a / b;

const atLeast = (baseline: Variant, min: number) => ({
  text: `≥${min}×${baseline}`,
  check: (values: Row["values"]) => {
    const value = ratio(values.scrollback, values[baseline]);
    return { value, met: value === null ? null : value >= min };
  },
});

const atMost = (baseline: Variant, max: number) => ({
  text: `≤${max}×${baseline}`,
  check: (values: Row["values"]) => {
    const value = ratio(values.scrollback, values[baseline]);
    return { value, met: value === null ? null : value <= max };
  },
});

const exactlyOne = {
  text: "=1",
  check: (values: Row["values"]) => {
    const value = values.scrollback ?? null;
    return { value, met: value === null ? null : Math.abs(value - 1) < 1e-9 };
  },
};

function throughputRows(name: CaseName, unit: string, results: Partial<Record<Variant, ThroughputResult>>): Row[] {
  const pick = (figure: (result: ThroughputResult) => number | null | undefined) =>
    Object.fromEntries(Object.entries(results).map(([variant, result]) => [variant, figure(result!)])) as Row["values"];
  const rows: Row[] = [
    {
      case: name,
      figure: `${unit}/s`,
      values: pick((r) => r.perSecond),
      digits: 0,
      targets:
        name === "add"
          ? [atLeast("ceiling", 0.6)]
          : name === "fanout"
            ? [atLeast("ceiling", 0.35), atLeast("naive", 1.8)]
            : [atLeast("ceiling", 0.6)],
    },
    { case: name, figure: "ack p50 ms", values: pick((r) => r.p50Ms), digits: 2 },
    { case: name, figure: "ack p99 ms", values: pick((r) => r.p99Ms), digits: 2, targets: name === "add" ? [atMost("ceiling", 2)] : [] },
    { case: name, figure: "ack p99.9 ms", values: pick((r) => r.p999Ms), digits: 2 },
    { case: name, figure: "errors + lost", values: pick((r) => Object.values(r.errors).reduce((a, b) => a + b, 0) + r.lost), digits: 0 },
    { case: name, figure: `server CPU s/1k ${unit}`, values: pick((r) => r.serverCpuPer1k), digits: 3 },
    { case: name, figure: `redis CPU s/1k ${unit}`, values: pick((r) => r.redisCpuPer1k), digits: 3 },
    { case: name, figure: `clients CPU s/1k ${unit}`, values: pick((r) => r.generatorCpuPer1k), digits: 3 },
  ];
  if (name === "fanout") {
    rows.push(
      { case: name, figure: "message:new/s", values: pick((r) => r.deliveriesPerSecond), digits: 0 },
      { case: name, figure: "delivery p50 ms", values: pick((r) => r.deliveryP50Ms), digits: 2 },
      { case: name, figure: "delivery p99 ms", values: pick((r) => r.deliveryP99Ms), digits: 2 },
    );
  }
  if (name !== "load") {
    rows.push(
      { case: name, figure: "data conn cmds/add", values: pick((r) => r.dataCommandsPerAdd), digits: 3, targets: [exactlyOne] },
      {
        case: name,
        figure: "commandstats calls/add",
        values: pick((r) => (r.commandStatsPerAdd ? Object.values(r.commandStatsPerAdd).reduce((a, b) => a + b, 0) : undefined)),
        digits: 3,
      },
    );
  }
  return rows;
}

function idleRows(results: Partial<Record<Variant, IdleResult>>): Row[] {
  const pick = (figure: (result: IdleResult) => number) =>
    Object.fromEntries(Object.entries(results).map(([variant, result]) => [variant, figure(result!)])) as Row["values"];
  return [
    { case: "idle", figure: "connect all, s", values: pick((r) => r.connectSeconds), digits: 2 },
    {
      case: "idle",
      figure: "server RSS KiB/conn",
      values: pick((r) => r.rssBytesPerConnection / 1024),
      digits: 1,
      targets: [atMost("ceiling", 1.25)],
    },
    { case: "idle", figure: "server CPU s/1k conns", values: pick((r) => r.serverCpuPer1k), digits: 3 },
    { case: "idle", figure: "redis KiB/conn", values: pick((r) => r.redisBytesPerConnection / 1024), digits: 2 },
  ];
}

function allRows(results: CaseResults): Row[] {
  return [
    ...(results.add ? throughputRows("add", "adds", results.add) : []),
    ...(results.fanout ? throughputRows("fanout", "adds", results.fanout) : []),
    ...(results.load ? throughputRows("load", "loads", results.load) : []),
    ...(results.idle ? idleRows(results.idle) : []),
  ];
}

/** Every target of the issue that this run measured. */
export function checkTargets(results: CaseResults): TargetCheck[] {
  return allRows(results).flatMap((row) =>
    (row.targets ?? []).map((target) => ({ case: row.case, figure: row.figure, target: target.text, ...target.check(row.values) })),
  );
}

function format(value: number | null | undefined, digits: number): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** The table, as printed and as pasted into the README. */
export function formatTable(results: CaseResults): string {
  const header = ["case", "figure", "scrollback", "ceiling", "naive", "×ceiling", "×naive", "target"];
  const lines = allRows(results).map((row) => {
    const targets = (row.targets ?? []).map((target) => {
      const { met } = target.check(row.values);
      return `${target.text} ${met === null ? "?" : met ? "✓" : "✗"}`;
    });
    return [
      row.case,
      row.figure,
      format(row.values.scrollback, row.digits),
      format(row.values.ceiling, row.digits),
      format(row.values.naive, row.digits),
      format(ratio(row.values.scrollback, row.values.ceiling), 2),
      format(ratio(row.values.scrollback, row.values.naive), 2),
      targets.join(" "),
    ];
  });
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column]!.length)));
  const render = (cells: string[]) =>
    cells
      .map((cell, column) => (column < 2 || column === 7 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join("  ")
      .trimEnd();
  return [render(header), ...lines.map(render)].join("\n");
}
