/**
 * A task that reached or left TASK_RUNNING, its records added to or removed from the served record
 * set without a state fetch. The records of one task are the difference between generating
 * records for its framework with the task and without it (the same generator, the same config and
 * host addresses as the last reload, so the names and values are exactly those a full reload
 * gives it):
 *
 * - a running task: generated for its framework and agent alone; what it adds is added.
 * - a stopped task: generated for its framework on every agent with the framework's tasks that
 *   still run (LiveTasks), so a value another of them gives (the agent's address under
 *   `<app>.<framework>.mesos` for the host-mode instances of an app on one agent) is not in the
 *   difference and stays. Names carry the framework's label (its name, sanitised), so tasks of
 *   other frameworks give other names, unless two labels can make one name (the same name, or a
 *   dotted one: `web.marathon`, `marathon`): then nothing is removed from the event.
 *
 * The change goes into a copy of the current set (the enumeration kept); the full reload the
 * event also triggers then replaces that set (values in upstream's order, enumeration, anything
 * else that changed).
 */
import type { MesosDnsConfig, RecordSet } from "../model";
import { generateRecords, type GenerateOptions } from "../records/generator";
import { domainFrag, labelSpec, type LabelSpec } from "../records/labels";
import { isObj, type Obj } from "./event-json";
import { toV0, type RunningTask } from "./live-tasks";

/**
 * What `withRunningTask` and `withoutStoppedTask` need of a fetched state, without the tasks (the
 * bulk of it): the leader, the agents, and the frameworks with an empty task list. Kept between
 * reloads.
 */
export function stateBasis(state: unknown): Obj | undefined {
  if (!isObj(state)) return undefined;
  const frameworks = Array.isArray(state["frameworks"]) ? (state["frameworks"] as unknown[]) : [];
  return {
    leader: state["leader"],
    slaves: state["slaves"],
    frameworks: frameworks.map((f) => {
      if (!isObj(f)) return f;
      const { tasks: _tasks, completed_tasks: _completed, unreachable_tasks: _unreachable, ...rest } = f;
      return { ...rest, tasks: [] };
    }),
  };
}

/** The element of `list` whose `id` is `id`. */
const byId = (list: unknown, id: string): Obj | undefined =>
  (Array.isArray(list) ? (list as unknown[]) : []).find((x): x is Obj => isObj(x) && x["id"] === id);

/**
 * The new values of a served name from `have` (undefined when the name is not served) and `own`
 * (the values of the name only the task gives); `have` itself when nothing changes.
 */
type Change = (have: readonly string[] | undefined, own: readonly string[]) => readonly string[] | undefined;

/**
 * `current` changed by `task`'s own records: the generator run for framework `fw` on `slaves`
 * with `others`, and with `others` and `task`; the values the second has and the first has not
 * are passed to `change` per type. `current` itself when nothing changed.
 */
function applyTask(
  current: RecordSet,
  lastState: Obj,
  fw: Obj,
  slaves: unknown,
  others: readonly unknown[],
  task: Obj,
  change: Change,
  cfg: MesosDnsConfig,
  opts: GenerateOptions,
): RecordSet {
  const mini = (tasks: unknown[]) => ({ ...lastState, frameworks: [{ ...fw, tasks }], slaves });
  const without = generateRecords(mini([...others]), cfg, opts).records;
  const withTask = generateRecords(mini([...others, task]), cfg, opts).records;
  const a = changed(current.a, without.a, withTask.a, change);
  const aaaa = changed(current.aaaa, without.aaaa, withTask.aaaa, change);
  const srv = changed(current.srv, without.srv, withTask.srv, change);
  if (a === current.a && aaaa === current.aaaa && srv === current.srv) return current;
  return { a, aaaa, srv, enumeration: current.enumeration };
}

/**
 * The current set plus `t`'s records (the generator run for its framework and agent); undefined
 * when the last fetched state does not know the task's framework or agent (a new agent or
 * framework: the full reload handles it). `current` itself when it has them all.
 */
export function withRunningTask(
  current: RecordSet,
  lastState: unknown,
  t: RunningTask,
  cfg: MesosDnsConfig,
  opts: GenerateOptions,
): RecordSet | undefined {
  if (!isObj(lastState)) return undefined;
  const fw = byId(lastState["frameworks"], t.frameworkId);
  const agent = byId(lastState["slaves"], t.agentId);
  if (fw === undefined || agent === undefined) return undefined;
  return applyTask(current, lastState, fw, [agent], [], t.task, added, cfg, opts);
}

/**
 * The current set without the values only `stopped` gave: the generator run for its framework on
 * every agent with `siblings` (its framework's tasks still running, v1 as the stream gave them or
 * v0; only those that can give its names are used) and with `siblings` and `stopped`; the values
 * the second has and the first has not are removed (a name left without values goes). A value
 * another task of the framework gives stays. Undefined when the last fetched state does not know
 * the task's framework or agent, another framework can give the same names, or over
 * {@link MAX_NAME_SIBLINGS} siblings can (the full reload removes it); `current` itself when none
 * of those values is served.
 */
export function withoutStoppedTask(
  current: RecordSet,
  lastState: unknown,
  stopped: RunningTask,
  siblings: readonly unknown[],
  cfg: MesosDnsConfig,
  opts: GenerateOptions,
): RecordSet | undefined {
  if (!isObj(lastState)) return undefined;
  const fw = byId(lastState["frameworks"], stopped.frameworkId);
  if (fw === undefined || byId(lastState["slaves"], stopped.agentId) === undefined) return undefined;
  if (sharesNames(lastState["frameworks"], fw, cfg)) return undefined;
  const related = nameSiblings(stopped.task, siblings, labelSpec(cfg.enforceRFC952));
  if (related.length > MAX_NAME_SIBLINGS) return undefined;
  const v0 = related.map((t) => (isObj(t) ? toV0(t) : t));
  return applyTask(current, lastState, fw, lastState["slaves"], v0, stopped.task, removed, cfg, opts);
}

/**
 * At most this many running tasks of its framework may share names with a stopped task for its
 * removal to be worked out at its event: each is generated twice on the event loop, and a
 * scale-down of an app of n instances would cost n² of them. Beyond it the reload removes it.
 */
export const MAX_NAME_SIBLINGS = 100;

/**
 * The task labels a task's names are made of (§3.5: its discovery name, raw and sanitised, else
 * its sanitised name), and whether one has a dot (a raw discovery name, whose names can be
 * anything).
 */
function taskLabels(t: unknown, spec: LabelSpec): { labels: string[]; dotted: boolean } {
  const task = isObj(t) ? t : {};
  const discovery = task["discovery"];
  const d = isObj(discovery) && typeof discovery["name"] === "string" ? discovery["name"] : "";
  if (d !== "") return { labels: [d, spec(d)], dotted: d.includes(".") };
  return { labels: [spec(typeof task["name"] === "string" ? task["name"] : "")], dotted: false };
}

/**
 * The siblings that can give one of `task`'s names: every name of a task holds its task label
 * (the rest is the framework's label and the domain, or its own hash and agent), so only the
 * tasks with one of its labels, and those whose raw label has a dot, can. All of them when the
 * task's own raw label has a dot.
 */
function nameSiblings(task: Obj, siblings: readonly unknown[], spec: LabelSpec): readonly unknown[] {
  const own = taskLabels(task, spec);
  if (own.dotted) return siblings;
  const mine = new Set(own.labels);
  return siblings.filter((s) => {
    const l = taskLabels(s, spec);
    return l.dotted || l.labels.some((x) => mine.has(x));
  });
}

/**
 * Whether a record of another framework of `frameworks` can have a name of a task of `fw`: names
 * are `X.F.<d>.` and `X.F.slave.<d>.` for a framework label F (framework records `F.<d>.`), so two
 * frameworks can meet when one's `F` or `F.slave` ends in the other's (`marathon` and `marathon`,
 * `web.marathon` and `marathon`, `marathon.slave` and `marathon`).
 */
function sharesNames(frameworks: unknown, fw: Obj, cfg: MesosDnsConfig): boolean {
  const spec = labelSpec(cfg.enforceRFC952);
  const label = (f: Obj): string => domainFrag(typeof f["name"] === "string" ? f["name"] : "", spec);
  const forms = (l: string): string[] => [l, `${l}.slave`];
  const ends = (a: string, b: string): boolean => a === b || a.endsWith(`.${b}`);
  const own = forms(label(fw));
  for (const f of Array.isArray(frameworks) ? (frameworks as unknown[]) : []) {
    if (!isObj(f) || f === fw || f["id"] === fw["id"]) continue;
    const other = label(f);
    if (other === "") continue; // no records
    for (const a of own) for (const b of forms(other)) if (ends(a, b) || ends(b, a)) return true;
  }
  return false;
}

/** `values` that are not in `other` (a port range can make thousands of values: no quadratic scan). */
function minus(values: readonly string[], other: readonly string[] | undefined): readonly string[] {
  if (other === undefined || other.length === 0) return values;
  const set = new Set(other);
  return values.filter((v) => !set.has(v));
}

/**
 * `current` with `change` applied to each name of `withTask` (with its values that `without` has
 * not); a name left without values is deleted. `current` itself when no name changed.
 */
function changed(
  current: ReadonlyMap<string, readonly string[]>,
  without: ReadonlyMap<string, readonly string[]>,
  withTask: ReadonlyMap<string, readonly string[]>,
  change: Change,
): ReadonlyMap<string, readonly string[]> {
  let out: Map<string, readonly string[]> | undefined;
  for (const [name, values] of withTask) {
    const have = (out ?? current).get(name);
    const next = change(have, minus(values, without.get(name)));
    if (next === have) continue;
    out ??= new Map(current);
    if (next !== undefined && next.length > 0) out.set(name, next);
    else out.delete(name);
  }
  return out ?? current;
}

/** The task's values appended where missing. */
const added: Change = (have, own) => {
  const extra = minus(own, have);
  return extra.length === 0 ? have : [...(have ?? []), ...extra];
};

/** The task's values removed. */
const removed: Change = (have, own) => {
  if (have === undefined) return undefined;
  const kept = minus(have, own);
  return kept.length === have.length ? have : kept;
};
