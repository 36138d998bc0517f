/**
 * What the CLI writes: human lines or, with `--json`, JSON. Everything goes
 * out through this class, and it makes every line printable itself: ids,
 * content, timestamps and meta come from Redis, where other programs write
 * too, so none of them may move the operator's cursor, recolour or retitle
 * their terminal, or reorder the line with bidi overrides.
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

  /** A line of the result, made printable (a newline inside it shows as ↵). */
  line(text = ""): void {
    this.streams.stdout.write(`${printable(text)}\n`);
  }

  /**
   * A value as JSON: one line (the `--json` form of every result), or
   * indented over several lines for people.
   */
  value(value: unknown, indent?: number): void {
    this.streams.stdout.write(`${safeJson(value, indent)}\n`);
  }

  /** Progress and hints for a person; never part of the result. */
  note(text: string): void {
    this.streams.stderr.write(`scrollback: ${printable(text)}\n`);
  }

  error(error: CliError): void {
    if (this.json) this.streams.stderr.write(`${safeJson({ error: { code: error.code, message: error.message } })}\n`);
    else this.streams.stderr.write(`scrollback: ${printable(error.message)}\n`);
  }
}

// What a terminal obeys rather than shows: C0 and C1 controls, DEL, and the
// bidi embeddings, overrides and isolates (U+202A–202E, U+2066–2069).
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point, to show them escaped
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** `text` on one line, with what a terminal would obey shown as escapes (newline as ↵). */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (char) => {
    if (char === "\n") return "↵";
    const code = char.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16)}`;
  });
}

// JSON.stringify escapes C0 but passes DEL, C1 and bidi controls through raw.
const UNESCAPED_BY_JSON = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * `JSON.stringify`, with the characters it leaves raw written as `\\uXXXX`
 * escapes: the same JSON value, safe on a terminal. They can only occur
 * inside strings, where the escape means the same character.
 */
export function safeJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(UNESCAPED_BY_JSON, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Rows of cells as aligned columns, each made printable and padded to its widest cell. */
export function columns(rows: string[][]): string[] {
  const shown = rows.map((row) => row.map(printable));
  const widths: number[] = [];
  for (const row of shown) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  // Every index has a width by now; the last cell is not padded, so no row ends in spaces.
  return shown.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join("  "));
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
  for (const [unit, size] of [
    ["d", 86_400],
    ["h", 3_600],
    ["m", 60],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest > 0 || parts.length === 0) parts.push(`${rest}s`);
  return parts.join(" ");
}
