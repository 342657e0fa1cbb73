import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** One measured figure, as a benchmark reports it. */
export interface Figure {
  readonly name: string;
  readonly unit: string;
  /** Our implementation's value. */
  readonly ours: number;
  /** The reference implementation's value, same run, same machine. */
  readonly reference: number;
  readonly reference_name: string;
  /** ours / reference. */
  readonly ratio: number;
  /** Human-readable goal, e.g. ">= 0.5x reference" or "p99 <= 5 ms". */
  readonly goal: string;
  /** Whether the goal is met. */
  readonly met: boolean;
  /** Optional extras (spread, per-run values, sample counts...). */
  readonly [extra: string]: unknown;
}

/** A figure as written to `bench/results/<name>.json`. */
export type FigureRecord = Figure & { readonly date: string; readonly machine: string };

export function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} cpu ${cpus[0]?.model ?? "unknown"} ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, ${os.platform()} ${os.release()}`;
}

/** bench/dist/.. → bench/results */
export const resultsDir = path.resolve(__dirname, "..", "results");

/** ours / reference, NaN when the reference is 0. */
export function ratio(ours: number, reference: number): number {
  return reference === 0 ? Number.NaN : ours / reference;
}

/** Percentile (0..100) of the values, nearest-rank; NaN for no values. */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? Number.NaN;
}

/** Median (mean of the two middle values for an even count); NaN for no values. */
export function median(values: ArrayLike<number>): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const mid = sorted.length >> 1;
  const hi = sorted[mid] ?? Number.NaN;
  return sorted.length % 2 === 1 ? hi : ((sorted[mid - 1] ?? Number.NaN) + hi) / 2;
}

/** Largest value (no argument spreading, so any length works); NaN for no values. */
export function max(values: ArrayLike<number>): number {
  let m = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) m = Math.max(m, values[i] ?? m);
  return values.length === 0 ? Number.NaN : m;
}

/** Rounds to a few significant digits for storage and display. */
export function round(value: number, digits = 4): number {
  return Number.isFinite(value) ? Number(value.toPrecision(digits)) : value;
}

function cell(value: unknown): string {
  if (typeof value === "number") return Number.isFinite(value) ? String(round(value)) : "n/a";
  if (typeof value === "boolean") return value ? "yes" : "NO";
  return String(value);
}

/** Formats figures as an aligned text table. */
export function formatTable(figures: readonly Figure[]): string {
  const header = ["figure", "unit", "ours", "reference", "ratio", "goal", "met", "reference is"];
  const rows = figures.map((f) => [f.name, f.unit, f.ours, f.reference, f.ratio, f.goal, f.met, f.reference_name].map(cell));
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  const numeric = new Set([2, 3, 4]);
  const line = (r: string[]): string =>
    r
      .map((c, i) => (numeric.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/**
 * Writes `bench/results/<name>.json` (a JSON array, one object per figure,
 * stamped with date and machine) and prints the figures as a table.
 * Returns the path written.
 */
export function writeResults(name: string, figures: readonly Figure[]): string {
  const date = new Date().toISOString();
  const host = machine();
  const records: FigureRecord[] = figures.map((f) => ({ ...f, date, machine: host }));
  fs.mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `${name}.json`);
  fs.writeFileSync(file, `${JSON.stringify(records, null, 2)}\n`);
  process.stdout.write(`\n${name} — ${host}\n${formatTable(figures)}\nwritten to ${file}\n`);
  return file;
}
