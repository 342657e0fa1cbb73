import * as fs from "node:fs";
import { z } from "zod";
import { invalidArgument } from "../errors";

/**
 * Config = defaults ← file (JSON) ← environment. Environment keys are
 * `<PREFIX>_<SECTION>__<KEY>` (double underscore between levels, single
 * underscores inside a name become camelCase): `DCNET_BUS__SERVERS`,
 * `DCNET_GRPC__PORT`. Values are parsed as JSON when they are JSON, else taken
 * as strings; list fields accept comma-separated strings.
 * Validation errors name the field: `bus.servers.0: Invalid url`.
 */
export interface LoadOptions {
  file?: string | undefined;
  env?: Record<string, string | undefined>;
  prefix?: string;
}

const camel = (s: string): string => s.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

export function envOverrides(env: Record<string, string | undefined>, prefix: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const head = `${prefix}_`;
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(head) || raw === undefined) continue;
    const path = name.slice(head.length).split("__").map(camel);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      /* plain string */
    }
    let node = out;
    path.forEach((part, i) => {
      if (i === path.length - 1) node[part] = value;
      else node = (node[part] = typeof node[part] === "object" && node[part] !== null ? node[part] : {}) as Record<string, unknown>;
    });
  }
  return out;
}

function merge(base: unknown, over: unknown): unknown {
  if (typeof base !== "object" || base === null || Array.isArray(base)) return over;
  if (typeof over !== "object" || over === null || Array.isArray(over)) return over;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) out[k] = k in out ? merge(out[k], v) : v;
  return out;
}

export function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw invalidArgument("--config", `cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw invalidArgument("--config", `${file} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Parses against the schema; the first problem becomes an INVALID_ARGUMENT naming its field. */
export function validate<S extends z.ZodTypeAny>(schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data as z.output<S>;
  const issue = r.error.issues[0]!;
  const field = issue.path.length ? issue.path.join(".") : "(root)";
  const more = r.error.issues.length > 1 ? ` (and ${r.error.issues.length - 1} more)` : "";
  throw invalidArgument(field, issue.message + more);
}

export function loadConfig<S extends z.ZodTypeAny>(schema: S, opts: LoadOptions = {}): z.output<S> {
  const fromFile = opts.file ? readConfigFile(opts.file) : {};
  const fromEnv = envOverrides(opts.env ?? {}, opts.prefix ?? "DCNET");
  return validate(schema, merge(fromFile, fromEnv));
}

/** A list field that also accepts a comma-separated string (from the environment). */
export function list<T extends z.ZodTypeAny>(item: T): z.ZodEffects<z.ZodArray<T>, z.output<T>[], unknown> {
  return z.preprocess(
    (v) =>
      typeof v === "string"
        ? v
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean)
        : v,
    z.array(item),
  ) as z.ZodEffects<z.ZodArray<T>, z.output<T>[], unknown>;
}

export { z };
