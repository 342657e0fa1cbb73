/**
 * A task that reached TASK_RUNNING, added to the served record set without a state fetch: the
 * records this one task contributes are the difference between generating records for its
 * framework and agent with the task and without it (the same generator, the same config and host
 * addresses as the last reload, so the names and values are exactly those a full reload gives
 * it). They are added to a copy of the current set; the full reload the event also triggers then
 * replaces that set (values in upstream's order, enumeration, anything else that changed).
 */
import type { MesosDnsConfig, RecordSet } from "../model";
import { generateRecords, type GenerateOptions } from "../records/generator";
import { isObj, type Obj } from "./event-json";
import type { RunningTask } from "./live-tasks";

/**
 * What `withRunningTask` needs of a fetched state, without the tasks (the bulk of it): the leader,
 * the agents, and the frameworks with an empty task list. Kept between reloads.
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

/**
 * The current set plus `t`'s records; undefined when the last fetched state does not know the
 * task's framework or agent (a new agent or framework: the full reload handles it).
 */
export function withRunningTask(
  current: RecordSet,
  lastState: unknown,
  t: RunningTask,
  cfg: MesosDnsConfig,
  opts: GenerateOptions,
): RecordSet | undefined {
  if (!isObj(lastState)) return undefined;
  const frameworks = Array.isArray(lastState["frameworks"]) ? (lastState["frameworks"] as unknown[]) : [];
  const slaves = Array.isArray(lastState["slaves"]) ? (lastState["slaves"] as unknown[]) : [];
  const fw = frameworks.find((f) => isObj(f) && f["id"] === t.frameworkId);
  const agent = slaves.find((s) => isObj(s) && s["id"] === t.agentId);
  if (!isObj(fw) || !isObj(agent)) return undefined;
  const mini = (tasks: unknown[]) => ({ ...lastState, frameworks: [{ ...fw, tasks }], slaves: [agent] });
  const without = generateRecords(mini([]), cfg, opts).records;
  const withTask = generateRecords(mini([t.task]), cfg, opts).records;
  return {
    a: added(current.a, without.a, withTask.a),
    aaaa: added(current.aaaa, without.aaaa, withTask.aaaa),
    srv: added(current.srv, without.srv, withTask.srv),
    enumeration: current.enumeration,
  };
}

/** `current` with the values `withTask` has and `without` has not, appended where missing. */
function added(
  current: ReadonlyMap<string, readonly string[]>,
  without: ReadonlyMap<string, readonly string[]>,
  withTask: ReadonlyMap<string, readonly string[]>,
): ReadonlyMap<string, readonly string[]> {
  let out: Map<string, readonly string[]> | undefined;
  for (const [name, values] of withTask) {
    const before = without.get(name);
    const have = (out ?? current).get(name);
    const extra = values.filter((v) => !(before?.includes(v) ?? false) && !(have?.includes(v) ?? false));
    if (extra.length === 0) continue;
    out ??= new Map(current);
    out.set(name, [...(have ?? []), ...extra]);
  }
  return out ?? current;
}
