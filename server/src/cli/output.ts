/**
 * What the CLI writes: human lines or, with `--json`, JSON. Text that came
 * from users (message content) is made printable first, so a message cannot
 * move the operator's cursor or recolour their terminal.
 */
import type { CliError } from "./cli-error.js";

/** Where a command writes; tests pass buffers, the entry point passes the process streams. */
export interface CliStreams {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown };
}

export class Output {
  constructor(
    private readonly streams: CliStreams,
    /** `--json`: results as JSON on stdout, errors as JSON on stderr. */
    readonly json: boolean,
  ) {}

  /** A line of the result. */
  line(text = ""): void {
    this.streams.stdout.write(`${text}\n`);
  }

  /** A value as one line of JSON (the `--json` form of every result). */
  value(value: unknown): void {
    this.streams.stdout.write(`${JSON.stringify(value)}\n`);
  }

  /** Progress and hints for a person; never part of the result. */
  note(text: string): void {
    this.streams.stderr.write(`scrollback: ${text}\n`);
  }

  error(error: CliError): void {
    if (this.json) this.streams.stderr.write(`${JSON.stringify({ error: { code: error.code, message: error.message } })}\n`);
    else this.streams.stderr.write(`scrollback: ${error.message}\n`);
  }
}

// C0 and C1 control characters, DEL included: an ESC in a message would otherwise reach the terminal.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** `text` on one line with control characters shown as escapes (newline as ↵). */
export function printable(text: string): string {
  return text.replace(CONTROL, (char) =>
    char === "\n" ? "↵" : `\\x${char.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

/** Rows of cells as aligned columns, each padded to its widest cell. */
export function columns(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  "));
}

/** 1536 → "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** 90061 → "1d 1h 1m 1s". */
export function formatDuration(seconds: number): string {
  const parts: string[] = [];
  let rest = Math.round(seconds);
  for (const [unit, size] of [["d", 86_400], ["h", 3_600], ["m", 60]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest > 0 || parts.length === 0) parts.push(`${rest}s`);
  return parts.join(" ");
}
