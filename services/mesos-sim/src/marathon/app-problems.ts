/**
 * Error collection and typed field readers for the Marathon app parser
 * (app-json.ts). Paths follow Marathon's own convention (see the comment at
 * the top of app-json.ts): `/field/sub` for object keys, `(i)` for array
 * elements, `/` for the document itself.
 */

import { AppValidationError } from "../model/app";

export type Json = Record<string, unknown>;

export const NOT_VALID = "Object is not valid";

/** Collects every problem, grouped by path in first-seen order. */
export class Problems {
  private readonly byPath = new Map<string, string[]>();

  add(path: string, error: string): void {
    const list = this.byPath.get(path);
    if (list) {
      if (!list.includes(error)) list.push(error);
    } else {
      this.byPath.set(path, [error]);
    }
  }

  get size(): number {
    return this.byPath.size;
  }

  has(path: string): boolean {
    return this.byPath.has(path);
  }

  throwIfAny(message: string = NOT_VALID): void {
    if (this.byPath.size === 0) return;
    throw new AppValidationError({ message, details: [...this.byPath].map(([path, errors]) => ({ path, errors: [...errors] })) });
  }
}

/** `/container` + `docker` → `/container/docker`; `/` + `id` → `/id`. */
export function at(path: string, key: string): string {
  return `${path === "/" ? "" : path}/${key}`;
}

/** `/portDefinitions` + 0 → `/portDefinitions(0)`. */
export function idx(path: string, i: number): string {
  return `${path}(${i})`;
}

export function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Sets an own property even for keys such as `__proto__` (no prototype games with user JSON). */
export function setKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A deep copy of JSON data; anything that is not JSON data is dropped. `undefined` when nested deeper than maxDepth. */
export function cloneJson(v: unknown, maxDepth = 64): unknown {
  if (maxDepth < 0) throw new RangeError("too deep");
  if (Array.isArray(v)) return v.map((e) => cloneJson(e, maxDepth - 1) ?? null);
  if (isObject(v)) {
    const out: Json = {};
    for (const [k, e] of Object.entries(v)) {
      const c = cloneJson(e, maxDepth - 1);
      if (c !== undefined) setKey(out, k, c);
    }
    return out;
  }
  if (v === null || typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v))) return v;
  return undefined;
}

export function has(obj: Json, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key) && obj[key] !== undefined && obj[key] !== null;
}

/** A present value (null counts as absent, as Marathon's JSON reader does). */
export function get(obj: Json, key: string): unknown {
  return has(obj, key) ? obj[key] : undefined;
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return "an array";
  if (v === null) return "null";
  return typeof v === "object" ? "an object" : `${typeof v} ${JSON.stringify(v)}`;
}

export function readString(obj: Json, key: string, path: string, problems: Problems): string | undefined {
  const v = get(obj, key);
  if (v === undefined) return undefined;
  if (typeof v === "string") return v;
  problems.add(at(path, key), `must be a string, got ${describe(v)}`);
  return undefined;
}

export function readBool(obj: Json, key: string, path: string, problems: Problems): boolean | undefined {
  const v = get(obj, key);
  if (v === undefined) return undefined;
  if (typeof v === "boolean") return v;
  problems.add(at(path, key), `must be a boolean, got ${describe(v)}`);
  return undefined;
}

export interface NumberRule {
  integer?: boolean;
  min?: number;
  /** min is exclusive (`> min`). */
  minExclusive?: boolean;
  max?: number;
}

/** Reads a number; `undefined` when absent or invalid (the problem is recorded). */
export function readNumber(obj: Json, key: string, path: string, problems: Problems, rule: NumberRule): number | undefined {
  const v = get(obj, key);
  if (v === undefined) return undefined;
  return checkNumber(v, at(path, key), problems, rule);
}

export function checkNumber(v: unknown, path: string, problems: Problems, rule: NumberRule): number | undefined {
  if (typeof v !== "number" || !Number.isFinite(v)) {
    problems.add(path, `must be ${rule.integer ? "an integer" : "a number"}, got ${describe(v)}`);
    return undefined;
  }
  let ok = true;
  if (rule.integer && !Number.isInteger(v)) {
    problems.add(path, `must be an integer, got ${v}`);
    ok = false;
  }
  if (rule.min !== undefined && (rule.minExclusive ? v <= rule.min : v < rule.min)) {
    problems.add(path, `must be ${rule.minExclusive ? "greater than" : "greater than or equal to"} ${rule.min}, got ${v}`);
    ok = false;
  }
  if (rule.max !== undefined && v > rule.max) {
    problems.add(path, `must be less than or equal to ${rule.max}, got ${v}`);
    ok = false;
  }
  return ok ? v : undefined;
}

export const PORT_RULE: NumberRule = { integer: true, min: 0, max: 65535 };

/** An object of string values (labels, port labels). */
export function readStringMap(obj: Json, key: string, path: string, problems: Problems): Record<string, string> {
  const v = get(obj, key);
  const out: Record<string, string> = {};
  if (v === undefined) return out;
  const p = at(path, key);
  if (!isObject(v)) {
    problems.add(p, `must be an object of string values, got ${describe(v)}`);
    return out;
  }
  for (const [k, val] of Object.entries(v)) {
    if (typeof val === "string") setKey(out, k, val);
    else problems.add(at(p, k), `must be a string, got ${describe(val)}`);
  }
  return out;
}

/** Reads an array; `undefined` when absent or not an array (recorded). */
export function readArray(obj: Json, key: string, path: string, problems: Problems): unknown[] | undefined {
  const v = get(obj, key);
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return v;
  problems.add(at(path, key), `must be an array, got ${describe(v)}`);
  return undefined;
}

/** Reads an object; `undefined` when absent or not an object (recorded). */
export function readObject(obj: Json, key: string, path: string, problems: Problems): Json | undefined {
  const v = get(obj, key);
  if (v === undefined) return undefined;
  if (isObject(v)) return v;
  problems.add(at(path, key), `must be an object, got ${describe(v)}`);
  return undefined;
}

export type Protocol = "tcp" | "udp" | "tcp,udp";

/** `tcp`, `udp`, `tcp,udp` or `udp,tcp` (→ `tcp,udp`); default `tcp`. */
export function readProtocol(obj: Json, path: string, problems: Problems): Protocol {
  const v = readString(obj, "protocol", path, problems);
  if (v === undefined) return "tcp";
  const parts = v.split(",").map((s) => s.trim());
  const set = new Set(parts);
  if (parts.length === set.size && parts.every((s) => s === "tcp" || s === "udp") && set.size > 0) {
    return set.size === 2 ? "tcp,udp" : (parts[0] as "tcp" | "udp");
  }
  problems.add(at(path, "protocol"), `must be one of tcp, udp, tcp,udp, got ${JSON.stringify(v)}`);
  return "tcp";
}

/** Marathon's port name rule (`PortDefinition` / `PortMapping` names). */
export const PORT_NAME = /^[a-z0-9-]+$/;

export function readPortName(obj: Json, path: string, problems: Problems): string | undefined {
  const name = readString(obj, "name", path, problems);
  if (name === undefined) return undefined;
  if (!PORT_NAME.test(name)) {
    problems.add(at(path, "name"), `must match ${PORT_NAME.source} (lower-case letters, digits and '-'), got ${JSON.stringify(name)}`);
    return undefined;
  }
  return name;
}
