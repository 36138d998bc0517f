/**
 * The bench's table: one row per figure, scrollback beside the baselines,
 * its ratio to each, and the targets (issue 14) where there is one,
 * each printed as met or not met with the measured ratio.
 */

import type { CaseName } from "./options.js";
import type { IdleResult, RunVariant, ThroughputResult } from "./results.js";
import type { ScaleResult } from "./scale-result.js";

export interface CaseResults {
  add?: Partial<Record<RunVariant, ThroughputResult>>;
  fanout?: Partial<Record<RunVariant, ThroughputResult>>;
  load?: Partial<Record<RunVariant, ThroughputResult>>;
  idle?: Partial<Record<RunVariant, IdleResult>>;
  scale?: ScaleResult;
}

/** A target of the issue, checked against one figure's ratio. */
export interface TargetCheck {
  case: CaseName;
  figure: string;
  target: string;
  /** The measured ratio (or value, for `=1`). */
  value: number | null;
  met: boolean | null;
  status: "met" | "not met" | "not measured";
}

type Values = Partial<Record<RunVariant, number | null | undefined>>;

interface Target {
  text: string;
  check: (values: Values) => { value: number | null; met: boolean | null };
}

interface Row {
  case: CaseName;
  figure: string;
  values: Values;
  digits: number;
  /** Targets on this row: scrollback's value against a baseline's, or on its own. */
  targets?: Target[];
}

const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  a === null || a === undefined || b === null || b === undefined || b === 0 ? null : a / b;

/** Names in the target texts. */
const NAMES: Partial<Record<RunVariant, string>> = { "scrollback-h1000": "HISTORY_MAX=1000", "bare-fanout": "bare fan-out" };

/** `subject` (scrollback unless said) at least `min` times `baseline`; `strict`: above it. */
const atLeast = (baseline: RunVariant, min: number, options: { subject?: RunVariant; strict?: boolean; label?: string } = {}): Target => {
  const subject = options.subject ?? "scrollback";
  const subjectName = subject === "scrollback" ? "" : `${NAMES[subject] ?? subject} `;
  const baselineName = subject === "scrollback-h1000" && baseline === "scrollback" ? "HISTORY_MAX=15" : (NAMES[baseline] ?? baseline);
  return {
    text: `${options.label ?? ""}${subjectName}${options.strict ? ">" : "≥"}${min}×${baselineName}`,
    check: (values) => {
      const value = ratio(values[subject], values[baseline]);
      return { value, met: value === null ? null : options.strict ? value > min : value >= min };
    },
  };
};

const atMost = (baseline: RunVariant, max: number): Target => ({
  text: `≤${max}×${NAMES[baseline] ?? baseline}`,
  check: (values) => {
    const value = ratio(values.scrollback, values[baseline]);
    return { value, met: value === null ? null : value <= max };
  },
});

const exactlyOne = (subject: RunVariant = "scrollback"): Target => ({
  text: subject === "scrollback" ? "=1" : `${NAMES[subject] ?? subject} =1`,
  check: (values) => {
    const value = values[subject] ?? null;
    return { value, met: value === null ? null : Math.abs(value - 1) < 1e-9 };
  },
});

function throughputRows(name: CaseName, unit: string, results: Partial<Record<RunVariant, ThroughputResult>>): Row[] {
  const pick = (figure: (result: ThroughputResult) => number | null | undefined) =>
    Object.fromEntries(Object.entries(results).map(([variant, result]) => [variant, figure(result!)])) as Values;
  const rateTargets: Record<string, Target[]> = {
    add: [atLeast("ceiling", 0.5), atLeast("scrollback", 0.8, { subject: "scrollback-h1000" })],
    fanout: [atLeast("bare-fanout", 0.95), atLeast("bare-fanout", 1.0, { strict: true, label: "stretch " }), atLeast("naive", 1.3)],
    load: [atLeast("ceiling", 0.5)],
  };
  const rows: Row[] = [
    { case: name, figure: `${unit}/s`, values: pick((r) => r.perSecond), digits: 0, targets: rateTargets[name] },
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
      {
        case: name,
        figure: "data conn cmds/add",
        values: pick((r) => r.dataCommandsPerAdd),
        digits: 3,
        targets: [exactlyOne(), ...(results["scrollback-h1000"] ? [exactlyOne("scrollback-h1000")] : [])],
      },
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

function idleRows(results: Partial<Record<RunVariant, IdleResult>>): Row[] {
  const pick = (figure: (result: IdleResult) => number) =>
    Object.fromEntries(Object.entries(results).map(([variant, result]) => [variant, figure(result!)])) as Values;
  return [
    { case: "idle", figure: "connect all, s", values: pick((r) => r.connectSeconds), digits: 2 },
    {
      case: "idle",
      figure: "server RSS KiB/conn",
      values: pick((r) => r.rssBytesPerConnection / 1024),
      digits: 1,
      targets: [atMost("ceiling", 1.1)],
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

const statusOf = (met: boolean | null): TargetCheck["status"] => (met === null ? "not measured" : met ? "met" : "not met");

/** Every target of the issue on the cases this run measured. */
export function checkTargets(results: CaseResults): TargetCheck[] {
  return allRows(results).flatMap((row) =>
    (row.targets ?? []).map((target) => {
      const { value, met } = target.check(row.values);
      return { case: row.case, figure: row.figure, target: target.text, value, met, status: statusOf(met) };
    }),
  );
}

function format(value: number | null | undefined, digits: number): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** How a target reads in the table and the target lines: `≥0.5×ceiling 0.62 met`. */
function targetText(target: Target, values: Values): string {
  const { value, met } = target.check(values);
  return `${target.text} ${format(value, 2)} ${statusOf(met)}`;
}

/** Column titles of the variants that may appear. */
const COLUMNS: [RunVariant, string][] = [
  ["scrollback", "scrollback"],
  ["scrollback-h1000", "sb h=1000"],
  ["ceiling", "ceiling"],
  ["bare-fanout", "bare fan-out"],
  ["naive", "naive"],
];

/** The table, as printed and as pasted into the README. */
export function formatTable(results: CaseResults): string {
  const rows = allRows(results);
  const present = COLUMNS.filter(([variant]) => rows.some((row) => row.values[variant] !== undefined));
  const withBare = present.some(([variant]) => variant === "bare-fanout");
  const header = ["case", "figure", ...present.map(([, title]) => title), "×ceiling", ...(withBare ? ["×bare"] : []), "×naive", "target"];
  const lines = rows.map((row) => [
    row.case,
    row.figure,
    ...present.map(([variant]) => format(row.values[variant], row.digits)),
    format(ratio(row.values.scrollback, row.values.ceiling), 2),
    ...(withBare ? [format(ratio(row.values.scrollback, row.values["bare-fanout"]), 2)] : []),
    format(ratio(row.values.scrollback, row.values.naive), 2),
    (row.targets ?? []).map((target) => targetText(target, row.values)).join("; "),
  ]);
  const last = header.length - 1;
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column]!.length)));
  const render = (cells: string[]) =>
    cells
      .map((cell, column) => (column < 2 || column === last ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join("  ")
      .trimEnd();
  return [render(header), ...lines.map(render)].join("\n");
}

/** One line per target: `target add adds/s ≥0.5×ceiling: 0.62× met`. */
export function formatTargets(checks: TargetCheck[]): string {
  return checks
    .map((check) => {
      const ratioText = check.target.endsWith("=1") ? format(check.value, 3) : `${format(check.value, 2)}×`;
      return `target ${check.case} ${check.figure} ${check.target}: ${check.value === null ? "—" : ratioText} ${check.status}`;
    })
    .join("\n");
}
