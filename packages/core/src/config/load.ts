import * as fs from "node:fs";
import { z } from "zod";
import { invalidArgument } from "../errors";

/**
 * Config = defaults ← file (JSON) ← environment. Environment keys are
 * `<PREFIX>_<SECTION>__<KEY>` (double underscore between levels, single
 * underscores inside a name become camelCase): `DCNET_BUS__SERVERS`,
 * `DCNET_GRPC__PORT`. Values are parsed as JSON when they are JSON, else taken
 * as strings; list fields accept comma-separated strings.
 * Validation errors name the key as the user wrote it: the file's key
 * (`bus.servers.0: Invalid url`, `upstream_resolvers.0` for a snake_case file)
 * or the environment variable (`DCNET_GRPC__PORT: …`), not the schema's internal
 * camelCase name; see `KeyOrigin`.
 */
export interface LoadOptions {
  file?: string | undefined;
  env?: Record<string, string | undefined>;
  prefix?: string;
}

/**
 * Where the keys of one config level came from, so that errors name them as written. `name`: the
 * key in the file; `env`: the environment variable that set this value (it wins over the file);
 * `snake`: the keys below were converted from snake_case, so a key set by neither (a default, a
 * programmatic override) is named in snake_case too.
 */
export interface KeyOrigin {
  name?: string;
  env?: string;
  snake?: boolean;
  keys?: Map<string, KeyOrigin>;
}

export const snakeToCamel = (s: string): string => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
export const camelToSnake = (s: string): string => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (s: string): string => snakeToCamel(s.toLowerCase());

const childOf = (o: KeyOrigin, key: string): KeyOrigin => {
  o.keys ??= new Map();
  let c = o.keys.get(key);
  if (!c) o.keys.set(key, (c = {}));
  return c;
};

/** Environment overrides as a nested object; `origins` (optional) records which variable set what. */
export function envOverrides(env: Record<string, string | undefined>, prefix: string, origins?: KeyOrigin): Record<string, unknown> {
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
    let origin = origins;
    path.forEach((part, i) => {
      if (origin) origin = childOf(origin, part);
      if (i === path.length - 1) {
        node[part] = value;
        if (origin) {
          origin.env = name;
          delete origin.keys;
        }
      } else node = (node[part] = typeof node[part] === "object" && node[part] !== null ? node[part] : {}) as Record<string, unknown>;
    });
  }
  return out;
}

/**
 * A snake_case config file (as DC/OS writes `dcos-dns.json`) to the schema's camelCase keys: the
 * top level, and one level down in the `nested` sections (map keys elsewhere, e.g. zone names, are
 * kept). Top-level keys not in `known` are reported through `warn` and dropped. `origins` records
 * each key as written.
 */
export function snakeFileKeys(
  raw: unknown,
  opts: { known: ReadonlySet<string>; nested: ReadonlySet<string>; service: string; warn: (msg: string) => void },
  origins?: KeyOrigin,
): unknown {
  if (origins) origins.snake = true;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return raw;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    const key = snakeToCamel(k);
    if (!opts.known.has(key)) {
      opts.warn(`config key "${k}" is not used by ${opts.service}; ignored`);
      continue;
    }
    const o = origins ? childOf(origins, key) : undefined;
    if (o) o.name = k;
    if (opts.nested.has(key) && typeof v === "object" && v !== null && !Array.isArray(v)) {
      if (o) o.snake = true;
      out[key] = Object.fromEntries(
        Object.entries(v).map(([a, b]) => {
          const inner = snakeToCamel(a);
          if (o) childOf(o, inner).name = a;
          return [inner, b];
        }),
      );
    } else out[key] = v;
  }
  return out;
}

/** Merges `over` into `base` (the environment's origins over the file's). */
export function mergeOrigins(base: KeyOrigin, over: KeyOrigin): KeyOrigin {
  if (over.env) return { ...over };
  const out: KeyOrigin = { ...base, keys: new Map(base.keys) };
  if (over.snake) out.snake = true;
  for (const [k, v] of over.keys ?? []) {
    const b = out.keys!.get(k);
    out.keys!.set(k, b ? mergeOrigins(b, v) : v);
  }
  return out;
}

/** An issue's path as the user wrote it: file keys, or the environment variable and what lies below it. */
export function describePath(path: readonly (string | number)[], origins?: KeyOrigin): string {
  if (path.length === 0) return "(root)";
  const out: string[] = [];
  let node = origins;
  for (let i = 0; i < path.length; i++) {
    const seg = String(path[i]);
    const o = node?.keys?.get(seg);
    if (o?.env) return [o.env, ...path.slice(i + 1).map(String)].join(".");
    out.push(o?.name ?? (node?.snake && typeof path[i] === "string" ? camelToSnake(seg) : seg));
    node = o;
  }
  return out.join(".");
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

/**
 * Parses against the schema; the first problem becomes an INVALID_ARGUMENT naming its field, as
 * written by the user when `origins` says how (see `KeyOrigin`).
 */
export function validate<S extends z.ZodTypeAny>(schema: S, input: unknown, origins?: KeyOrigin): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data as z.output<S>;
  const issue = r.error.issues[0]!;
  const field = describePath(issue.path, origins);
  const more = r.error.issues.length > 1 ? ` (and ${r.error.issues.length - 1} more)` : "";
  throw invalidArgument(field, issue.message + more);
}

export function loadConfig<S extends z.ZodTypeAny>(schema: S, opts: LoadOptions = {}): z.output<S> {
  const fromFile = opts.file ? readConfigFile(opts.file) : {};
  const origins: KeyOrigin = {};
  const fromEnv = envOverrides(opts.env ?? {}, opts.prefix ?? "DCNET", origins);
  return validate(schema, merge(fromFile, fromEnv), origins);
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
