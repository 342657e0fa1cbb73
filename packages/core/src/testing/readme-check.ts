/**
 * Test helpers that compare a service README with its code: the config table against the config
 * schema (keys and defaults), the metrics section against the metric names registered in source.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";

/** The lines under the heading `heading` (e.g. "## Metrics") up to the next heading of that level or higher. */
export function readmeSection(markdown: string, heading: string): string {
  const lines = markdown.split("\n");
  const start = lines.findIndex((l) => l.trim() === heading);
  if (start < 0) throw new Error(`no heading "${heading}"`);
  const level = heading.indexOf(" ");
  const end = lines.findIndex((l, i) => i > start && /^#+ /.test(l) && l.indexOf(" ") <= level);
  return lines.slice(start + 1, end < 0 ? undefined : end).join("\n");
}

/** The body rows (cells trimmed) of the first markdown table in `text`: header and separator skipped. */
export function markdownTable(text: string): string[][] {
  const rows = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l, i, all) => l.startsWith("|") && (i === 0 || all[i - 1]!.startsWith("|") || all[i + 1]?.startsWith("|")));
  const first = rows.findIndex((l) => /^\|[\s|:-]+\|$/.test(l));
  if (first < 1) throw new Error("no markdown table");
  const body: string[][] = [];
  for (const l of rows.slice(first + 1)) {
    // Cells split at `|` outside code spans, and not at an escaped `\|`.
    const cells: string[] = [];
    let cur = "";
    let code = false;
    for (let i = 1; i < l.length; i++) {
      const c = l[i]!;
      if (c === "`") code = !code;
      if (c === "\\" && l[i + 1] === "|") {
        cur += "|";
        i++;
      } else if (c === "|" && !code) {
        cells.push(cur.trim());
        cur = "";
      } else cur += c;
    }
    body.push(cells);
  }
  return body;
}

/** The contents of the code spans in `text`, in order. */
export function codeSpans(text: string): string[] {
  return [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
}

/** Metric names (`prefix_…`, labels `{…}` stripped) written as code spans in `text`. */
export function documentedMetrics(text: string, prefix: string): Set<string> {
  return new Set(documentedMetricLabels(text, prefix).keys());
}

/**
 * Metric names written as code spans in `text` with the labels shown (`name{a,b}` → [a, b]; a
 * name shown with labels anywhere has those labels, else []).
 */
export function documentedMetricLabels(text: string, prefix: string): Map<string, string[]> {
  const re = new RegExp(`^(${prefix}_[a-z0-9_]+)(?:\\{([a-z0-9_, ]*)\\})?`);
  const out = new Map<string, string[]>();
  for (const span of codeSpans(text)) {
    const m = re.exec(span);
    if (!m) continue;
    const labels = m[2] === undefined ? [] : m[2].split(",").map((l) => l.trim());
    if (labels.length > 0 || !out.has(m[1]!)) out.set(m[1]!, labels);
  }
  return out;
}

const sources = (srcDir: string): string[] => {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ts") && !e.name.endsWith(".test.ts")) out.push(fs.readFileSync(p, "utf8"));
    }
  };
  walk(srcDir);
  return out;
};

/** Metric names: string literals `"prefix_…"` in the non-test `.ts` files under `srcDir`. */
export function registeredMetrics(srcDir: string, prefix: string): Set<string> {
  const re = new RegExp(`"(${prefix}_[a-z0-9_]+)"`, "g");
  return new Set(sources(srcDir).flatMap((text) => [...text.matchAll(re)].map((m) => m[1]!)));
}

/**
 * Label names of the metrics registered through core's `counter(reg, "name", "help", [labels])`
 * (and `gauge`, `histogram`) under `srcDir`; metrics registered otherwise are not listed.
 */
export function registeredMetricLabels(srcDir: string, prefix: string): Map<string, string[]> {
  const re = new RegExp(
    `(?:counter|gauge|histogram)\\(\\s*[\\w.]+,\\s*"(${prefix}_[a-z0-9_]+)",\\s*(?:"[^"]*"|\`[^\`]*\`),\\s*\\[([^\\]]*)\\]`,
    "g",
  );
  const out = new Map<string, string[]>();
  for (const text of sources(srcDir))
    for (const m of text.matchAll(re))
      out.set(
        m[1]!,
        [...m[2]!.matchAll(/"([^"]+)"/g)].map((l) => l[1]!),
      );
  return out;
}

/** Metrics whose labels in the docs differ from the code's (docs that show none count as none). */
export function metricLabelProblems(documented: ReadonlyMap<string, string[]>, registered: ReadonlyMap<string, string[]>): string[] {
  const problems: string[] = [];
  for (const [name, labels] of registered) {
    const shown = documented.get(name);
    if (shown !== undefined && shown.join(",") !== labels.join(","))
      problems.push(`${name}: README {${shown.join(",")}}, code {${labels.join(",")}}`);
  }
  return problems;
}

const camelToSnake = (s: string): string => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function objectShape(t: z.ZodTypeAny): Record<string, z.ZodTypeAny> | undefined {
  for (;;) {
    if (t instanceof z.ZodObject) return t.shape as Record<string, z.ZodTypeAny>;
    if (t instanceof z.ZodDefault || t instanceof z.ZodOptional) t = t._def.innerType as z.ZodTypeAny;
    else if (t instanceof z.ZodEffects) t = t._def.schema as z.ZodTypeAny;
    else return undefined;
  }
}

/**
 * The config keys as written in a file (snake_case; `section.key` for the `nested` sections) with
 * their defaults: `defaults` is the schema's output for a minimal input.
 */
export function snakeConfigKeys(
  schema: z.ZodTypeAny,
  nested: ReadonlySet<string>,
  defaults: Record<string, unknown>,
): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [k, t] of Object.entries(objectShape(schema) ?? {})) {
    const inner = nested.has(k) ? objectShape(t) : undefined;
    if (inner)
      for (const k2 of Object.keys(inner))
        out.set(`${camelToSnake(k)}.${camelToSnake(k2)}`, (defaults[k] as Record<string, unknown> | undefined)?.[k2]);
    else out.set(camelToSnake(k), defaults[k]);
  }
  return out;
}

/**
 * Whether a README default cell states `value`: its first code span, read as a number for numbers,
 * `[a, b]` for lists, JSON for objects. Undefined values (computed defaults) take any text.
 */
export function documentsDefault(cell: string, value: unknown): boolean {
  if (value === undefined) return true;
  const shown = codeSpans(cell)[0];
  if (shown === undefined) return false;
  if (typeof value === "number") return Number(shown) === value;
  if (Array.isArray(value)) return shown === `[${value.join(", ")}]`;
  if (typeof value === "object" && value !== null) return shown === JSON.stringify(value);
  return shown === String(value);
}

/**
 * Differences between a README config table (first column: the key in a code span, or `section.*`
 * for a whole section; second: the default) and the schema's keys; [] when they agree.
 */
export function configTableProblems(rows: readonly string[][], keys: ReadonlyMap<string, unknown>): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  const wildcards: string[] = [];
  for (const row of rows) {
    const key = codeSpans(row[0] ?? "")[0];
    if (key === undefined) {
      problems.push(`row without a key: | ${row.join(" | ")} |`);
      continue;
    }
    if (key.endsWith(".*")) {
      const prefix = key.slice(0, -1);
      if (![...keys.keys()].some((k) => k.startsWith(prefix))) problems.push(`README names a section that does not exist: ${key}`);
      wildcards.push(prefix);
      continue;
    }
    if (!keys.has(key)) {
      problems.push(`README names a key that does not exist: ${key}`);
      continue;
    }
    seen.add(key);
    if (!documentsDefault(row[1] ?? "", keys.get(key)))
      problems.push(`${key}: README default "${row[1]}", schema default ${JSON.stringify(keys.get(key))}`);
  }
  for (const k of keys.keys())
    if (!seen.has(k) && !wildcards.some((w) => k.startsWith(w))) problems.push(`key missing from the README: ${k}`);
  return problems;
}

/** Whether `schema` (objects, through defaults, optionals and effects) has the camelCase key path `keys`. */
export function schemaHasPath(schema: z.ZodTypeAny, keys: readonly string[]): boolean {
  let t: z.ZodTypeAny | undefined = schema;
  for (const k of keys) {
    t = t && objectShape(t)?.[k];
    if (t === undefined) return false;
  }
  return true;
}
