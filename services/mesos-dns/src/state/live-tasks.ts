/**
 * The tasks of the master's SUBSCRIBE stream, kept as the stream describes them (v1 Operator API
 * JSON), so that a task that reaches TASK_RUNNING can be turned into records at once
 * (incremental.ts) — TASK_UPDATED carries only the status; name, ports and discovery info came
 * with TASK_ADDED or the SUBSCRIBED snapshot.
 *
 * `toV0` gives the task in the shape of `/master/state` (v0), which is what the record generator
 * reads: ids as strings, `slave_id`, `resources.ports` as a range string, labels as lists.
 */

import { field, idValue, isObj, str, taskKey, type Obj } from "./event-json";

/** States a task can still become (or stay) RUNNING from; any other state ends what we keep of it. */
const LIVE = new Set(["TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_UNREACHABLE"]);

/** A task that reached TASK_RUNNING, as `/master/state` would show it. */
export interface RunningTask {
  /** framework/task id (event-json.ts `taskKey`). */
  key: string;
  frameworkId: string;
  agentId: string;
  /** v0 JSON of the task. */
  task: Obj;
}

export class LiveTasks {
  private readonly tasks = new Map<string, Obj>();

  get size(): number {
    return this.tasks.size;
  }

  /** Takes one event of the stream, in order; returns the task when this event made it RUNNING. */
  take(event: unknown): RunningTask | undefined {
    switch (field(event, "type")) {
      case "SUBSCRIBED": {
        this.tasks.clear();
        const tasks = field(field(field(field(event, "subscribed"), "get_state"), "get_tasks"), "tasks");
        if (Array.isArray(tasks)) for (const t of tasks) this.keep(t);
        return undefined;
      }
      case "TASK_ADDED": {
        const t = field(field(event, "task_added"), "task");
        this.keep(t);
        return field(t, "state") === "TASK_RUNNING" && isObj(t) ? running(t) : undefined;
      }
      case "TASK_UPDATED": {
        const u = field(event, "task_updated");
        const status = field(u, "status");
        const key = taskKey(field(u, "framework_id"), field(status, "task_id"));
        const t = this.tasks.get(key);
        if (t === undefined) return undefined;
        const state = str(field(u, "state")) ?? str(field(status, "state"));
        if (state === undefined || !LIVE.has(state)) {
          this.tasks.delete(key);
          return undefined;
        }
        const was = t["state"];
        const statuses = Array.isArray(t["statuses"]) ? (t["statuses"] as unknown[]) : [];
        const next: Obj = { ...t, state, statuses: isObj(status) ? [...statuses, status] : statuses };
        this.tasks.set(key, next);
        return state === "TASK_RUNNING" && was !== "TASK_RUNNING" ? running(next) : undefined;
      }
      default:
        return undefined;
    }
  }

  private keep(t: unknown): void {
    if (!isObj(t)) return;
    const state = str(t["state"]);
    const key = taskKey(t["framework_id"], t["task_id"]);
    if (state !== undefined && LIVE.has(state)) this.tasks.set(key, t);
    else this.tasks.delete(key);
  }
}

function running(t: Obj): RunningTask {
  return {
    key: taskKey(t["framework_id"], t["task_id"]),
    frameworkId: idValue(t["framework_id"]),
    agentId: idValue(t["agent_id"]),
    task: toV0(t),
  };
}

/** Labels as a list: v1 wraps them (`{labels: [...]}`), v0 does not. */
function labelList(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  const inner = field(v, "labels");
  return Array.isArray(inner) ? inner : [];
}

/** v1 `resources` (a list of Resource) → v0 `resources` (`{ports: "[a-b, c-d]"}`). */
function v0Resources(v: unknown): Obj {
  if (isObj(v)) return v; // already v0
  const ranges: string[] = [];
  if (Array.isArray(v))
    for (const r of v) {
      if (field(r, "name") !== "ports") continue;
      const list = field(field(r, "ranges"), "range");
      if (Array.isArray(list)) for (const x of list) ranges.push(`${String(field(x, "begin"))}-${String(field(x, "end"))}`);
    }
  return ranges.length > 0 ? { ports: `[${ranges.join(", ")}]` } : {};
}

/** A v1 task (Operator API) in the v0 shape of `/master/state` (fields the generator reads). */
export function toV0(t: Obj): Obj {
  const statuses = (Array.isArray(t["statuses"]) ? (t["statuses"] as unknown[]) : []).map((s) =>
    isObj(s) ? { ...s, labels: labelList(s["labels"]) } : s,
  );
  const out: Obj = {
    id: str(t["id"]) ?? idValue(t["task_id"]),
    name: t["name"],
    framework_id: str(t["framework_id"]) ?? idValue(t["framework_id"]),
    slave_id: str(t["slave_id"]) ?? idValue(t["agent_id"]),
    state: t["state"],
    statuses,
    resources: v0Resources(t["resources"]),
  };
  if (t["discovery"] !== undefined) out["discovery"] = t["discovery"];
  if (t["labels"] !== undefined) out["labels"] = labelList(t["labels"]);
  return out;
}
