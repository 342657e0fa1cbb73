/**
 * The tasks of the master's SUBSCRIBE stream, kept as the stream describes them (v1 Operator API
 * JSON), for two things:
 *
 * - **Which events can change Mesos-DNS's records** (spec §3: task records come only from tasks
 *   in `TASK_RUNNING`; agent and framework records from agents and frameworks). A task event
 *   matters when the task is running after it or was running before it: a task being staged,
 *   started, or ending without ever having run adds and removes nothing. Reloading on those (a
 *   launch is TASK_ADDED, STAGING, STARTING, then RUNNING) made the RUNNING event wait for reloads
 *   that could not change anything, two or three per task on a busy master. Everything else that
 *   is not a HEARTBEAT (agents, frameworks, an event type this code does not know) is a change.
 * - **The task that just reached TASK_RUNNING**, so it can be turned into records at once
 *   (incremental.ts): TASK_UPDATED carries only the status; name, ports and discovery info came
 *   with TASK_ADDED or the SUBSCRIBED snapshot. `toV0` gives it in the shape of `/master/state`
 *   (v0), which is what the record generator reads.
 * - **The task that just left TASK_RUNNING**, as it was while running, with the tasks of its
 *   framework that still run: the values only it gave can then be removed at once.
 */

import { field, idValue, isObj, str, taskKey, type Obj } from "./event-json";

const RUNNING = "TASK_RUNNING";

/** States a task can still become (or stay) RUNNING from; any other state ends what we keep of it. */
const LIVE = new Set(["TASK_STAGING", "TASK_STARTING", RUNNING, "TASK_KILLING", "TASK_UNREACHABLE"]);

/** A task that reached TASK_RUNNING, as `/master/state` would show it. */
export interface RunningTask {
  /** framework/task id (event-json.ts `taskKey`). */
  key: string;
  frameworkId: string;
  agentId: string;
  /** v0 JSON of the task. */
  task: Obj;
}

/** A task that left TASK_RUNNING: what removing its records needs. */
export interface StoppedTask {
  /** The task as it was while running (its last running state and statuses). */
  task: RunningTask;
  /**
   * The other tasks of its framework still in TASK_RUNNING, on any agent, as the stream gave them
   * (v1; `toV0` turns the few that matter into v0: incremental.ts).
   */
  siblings: Obj[];
}

/** What one event of the stream means for the records. */
export interface TaskEvent {
  /** It can change the record set (a reload is due). */
  relevant: boolean;
  /** The task this event made TASK_RUNNING. */
  running?: RunningTask;
  /** The key of the task this event took out of TASK_RUNNING. */
  stopped?: string;
  /**
   * With `stopped`, when the task and every running task of its framework are known with their
   * bodies (a task known only from an update has no name: what it gives is unknown).
   */
  removal?: StoppedTask;
}

interface Live {
  state: string;
  /** The task as the stream gave it; null for a task only known from an update (no name, no ports). */
  task: Obj | null;
}

const IGNORED: TaskEvent = { relevant: false };
const CHANGE: TaskEvent = { relevant: true };

export class LiveTasks {
  private readonly tasks = new Map<string, Live>();

  get size(): number {
    return this.tasks.size;
  }

  /** Tasks in TASK_RUNNING known from the stream (for tests). */
  get runningTasks(): number {
    let n = 0;
    for (const t of this.tasks.values()) if (t.state === RUNNING) n++;
    return n;
  }

  /** Takes one event of the stream, in order. */
  take(event: unknown): TaskEvent {
    const type = str(field(event, "type")) ?? "";
    switch (type) {
      case "HEARTBEAT":
        return IGNORED;
      case "SUBSCRIBED": {
        this.tasks.clear();
        const tasks = field(field(field(field(event, "subscribed"), "get_state"), "get_tasks"), "tasks");
        if (Array.isArray(tasks))
          for (const t of tasks) if (isObj(t)) this.set(taskKey(t["framework_id"], t["task_id"]), str(t["state"]), t);
        return CHANGE; // the state as a whole
      }
      case "TASK_ADDED": {
        const t = field(field(event, "task_added"), "task");
        return this.set(taskKey(field(t, "framework_id"), field(t, "task_id")), str(field(t, "state")), isObj(t) ? t : null);
      }
      case "TASK_UPDATED": {
        const u = field(event, "task_updated");
        const status = field(u, "status");
        // `state` is the task's latest state; `status.state` the state of this update (they differ
        // when updates arrive out of order).
        const state = str(field(u, "state")) ?? str(field(status, "state"));
        const key = taskKey(field(u, "framework_id"), field(status, "task_id"));
        const known = this.tasks.get(key)?.task ?? null;
        const statuses = known !== null && Array.isArray(known["statuses"]) ? (known["statuses"] as unknown[]) : [];
        const task = known !== null ? { ...known, state, statuses: isObj(status) ? [...statuses, status] : statuses } : null;
        return this.set(key, state, task);
      }
      default:
        return CHANGE;
    }
  }

  /** Records `key`'s new state; what that means for the records. */
  private set(key: string, state: string | undefined, task: Obj | null): TaskEvent {
    const before = this.tasks.get(key);
    const was = before?.state === RUNNING;
    const is = state === RUNNING;
    if (state !== undefined && LIVE.has(state)) this.tasks.set(key, { state, task });
    else this.tasks.delete(key);
    // RUNNING → RUNNING counts: a later status can carry other addresses (IPSources read it).
    if (!was && !is) return IGNORED;
    if (is && !was && task !== null) return { relevant: true, running: running(task) };
    if (was && !is) {
      const removal = before.task !== null ? this.removal(running(before.task)) : undefined;
      return removal !== undefined ? { relevant: true, stopped: key, removal } : { relevant: true, stopped: key };
    }
    return CHANGE;
  }

  /** `stopped` (no longer running here) with its framework's running tasks; undefined when one has no body. */
  private removal(stopped: RunningTask): StoppedTask | undefined {
    const prefix = `${stopped.frameworkId}/`;
    const siblings: Obj[] = [];
    for (const [key, t] of this.tasks) {
      if (t.state !== RUNNING || !key.startsWith(prefix)) continue;
      if (t.task === null) return undefined;
      siblings.push(t.task);
    }
    return { task: stopped, siblings };
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
