/**
 * Marathon placement constraints (`constraints: [[field, operator, value?], ...]`):
 * validation (app-json.ts) and the check the scheduler applies per agent.
 *
 * Decisions:
 * - `field` is `hostname` (the agent's hostname, as Mesos reports it) or the
 *   name of an agent attribute (`agent.attributes`, e.g. `rack`); `@hostname`
 *   is accepted as an alias of `hostname` (Marathon 1.5+). An agent without the
 *   attribute matches no operator except UNLIKE (as Marathon).
 * - Operators: UNIQUE (no value), CLUSTER (value optional: without one, every
 *   task goes where the first one went), GROUP_BY (value = number of groups,
 *   optional, validated only: tasks go to the least used value among the active
 *   agents'), LIKE / UNLIKE (value = a Java-style regex that must match the
 *   **whole** value), MAX_PER (value = integer ≥ 1), IS (value = exact text).
 * - Which tasks count: the app's live tasks of its current version that are not
 *   being killed. (Marathon counts every instance of the app; the simulator
 *   replaces old versions only once new ones run, so counting them would leave
 *   e.g. `["hostname", "UNIQUE"]` with as many instances as agents unable to
 *   restart at all.)
 * - Errors are collected at `/constraints(i)` (the whole constraint) or
 *   `/constraints(i)(j)` (one element), like the other app fields.
 */

import type { AgentRecord } from "../model/launch";
import { get, idx, type Json, type Problems } from "./app-problems";

export const CONSTRAINT_OPERATORS = ["UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "UNLIKE", "MAX_PER", "IS"] as const;
export type ConstraintOperator = (typeof CONSTRAINT_OPERATORS)[number];

export interface Constraint {
  /** `hostname` or an agent attribute name. */
  field: string;
  operator: ConstraintOperator;
  value?: string;
}

function show(v: unknown): string {
  return v === undefined ? "nothing" : JSON.stringify(v);
}

/** Validates `constraints`; returns the valid ones and the JSON to store (the input, `@hostname` kept as given). */
export function parseConstraints(app: Json, problems: Problems): { constraints: Constraint[]; json: unknown[] } {
  const out: Constraint[] = [];
  const raw = get(app, "constraints");
  if (raw === undefined) return { constraints: out, json: [] };
  if (!Array.isArray(raw)) {
    problems.add(
      "/constraints",
      `must be an array of [field, operator, value?] arrays, got ${typeof raw === "object" ? "an object" : show(raw)}`,
    );
    return { constraints: out, json: [] };
  }
  raw.forEach((c, i) => {
    const p = idx("/constraints", i);
    if (!Array.isArray(c) || c.length < 2 || c.length > 3) {
      problems.add(p, `must be an array [field, operator] or [field, operator, value], got ${show(c)}`);
      return;
    }
    const [field, operator, value] = c as unknown[];
    let ok = true;
    if (typeof field !== "string" || field.trim() === "") {
      problems.add(idx(p, 0), `the field must be a non-empty string (hostname or an agent attribute), got ${show(field)}`);
      ok = false;
    }
    if (typeof operator !== "string" || !(CONSTRAINT_OPERATORS as readonly string[]).includes(operator)) {
      problems.add(idx(p, 1), `the operator must be one of ${CONSTRAINT_OPERATORS.join(", ")}, got ${show(operator)}`);
      return;
    }
    if (value !== undefined && typeof value !== "string") {
      problems.add(idx(p, 2), `the value must be a string, got ${show(value)}`);
      return;
    }
    const op = operator as ConstraintOperator;
    const err = valueProblem(op, value);
    if (err) {
      problems.add(idx(p, 2), err);
      ok = false;
    }
    if (!ok) return;
    const f = field as string;
    out.push({ field: f === "@hostname" ? "hostname" : f, operator: op, ...(value !== undefined ? { value } : {}) });
  });
  return { constraints: out, json: raw };
}

function valueProblem(op: ConstraintOperator, value: string | undefined): string | undefined {
  switch (op) {
    case "UNIQUE":
      return value === undefined ? undefined : `UNIQUE takes no value, got ${show(value)}`;
    case "CLUSTER":
      return value === "" ? "CLUSTER takes a non-empty value (or none)" : undefined;
    case "GROUP_BY":
      return value === undefined || /^[1-9][0-9]*$/.test(value)
        ? undefined
        : `GROUP_BY takes a number of groups ≥ 1 (or none), got ${show(value)}`;
    case "MAX_PER":
      return value !== undefined && /^[1-9][0-9]*$/.test(value) ? undefined : `MAX_PER needs an integer ≥ 1, got ${show(value)}`;
    case "IS":
      return value === undefined ? "IS needs a value" : undefined;
    case "LIKE":
    case "UNLIKE":
      if (value === undefined) return `${op} needs a regular expression`;
      try {
        new RegExp(value);
        return undefined;
      } catch (err) {
        return `${op} needs a valid regular expression: ${(err as Error).message}`;
      }
  }
}

/** The agent's value for a constraint field: its hostname, or an attribute (undefined when it has none). */
export function fieldValue(agent: Pick<AgentRecord, "hostname" | "attributes">, field: string): string | undefined {
  if (field === "hostname" || field === "@hostname") return agent.hostname;
  return Object.prototype.hasOwnProperty.call(agent.attributes, field) ? agent.attributes[field] : undefined;
}

const fullMatch = (re: string, v: string): boolean => new RegExp(`^(?:${re})$`).test(v);

type AgentLike = Pick<AgentRecord, "hostname" | "attributes">;

/**
 * Whether one more task of the app may go to `candidate`, given the agents its
 * counted tasks already run on (one entry per task) and the active agents
 * (for GROUP_BY and CLUSTER without a value). Every constraint must hold.
 */
export function constraintsAllow(
  constraints: readonly Constraint[],
  candidate: AgentLike,
  placed: readonly AgentLike[],
  active: readonly AgentLike[],
): boolean {
  return constraints.every((c) => allows(c, candidate, placed, active));
}

function allows(c: Constraint, candidate: AgentLike, placed: readonly AgentLike[], active: readonly AgentLike[]): boolean {
  const v = fieldValue(candidate, c.field);
  if (v === undefined) return c.operator === "UNLIKE";
  const here = placed.filter((a) => fieldValue(a, c.field) === v).length;
  switch (c.operator) {
    case "UNIQUE":
      return here === 0;
    case "MAX_PER":
      return here < Number(c.value);
    case "IS":
      return v === c.value;
    case "LIKE":
      return fullMatch(c.value ?? "", v);
    case "UNLIKE":
      return !fullMatch(c.value ?? "", v);
    case "CLUSTER": {
      if (c.value !== undefined) return v === c.value;
      const first = placed.map((a) => fieldValue(a, c.field)).find((x) => x !== undefined);
      return first === undefined || first === v;
    }
    case "GROUP_BY": {
      const values = new Set(active.map((a) => fieldValue(a, c.field)).filter((x): x is string => x !== undefined));
      values.add(v);
      const count = (x: string): number => placed.filter((a) => fieldValue(a, c.field) === x).length;
      const least = Math.min(...[...values].map(count));
      return here === least;
    }
  }
}
