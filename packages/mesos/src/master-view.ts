/**
 * The leading master's state as the Operator API SUBSCRIBE events build it (spec dcos-net.md §2.1;
 * NET `dcos_net_mesos_listener.erl`): agents, frameworks and the non-terminal tasks, normalised.
 * Pure (no I/O), so the stream client and the tests drive it event by event.
 *
 * Each task's raw JSON is kept and re-normalised on every change: TASK_UPDATED sets its `state`
 * from the event (DCOS_OSS-3539) and appends the event's `status`; a task whose framework or agent
 * is not known yet is parked (kept, but not in the view) until FRAMEWORK_ADDED / AGENT_ADDED
 * names it. Terminal tasks are dropped.
 */
import type { Logger } from "@dcnet/core";
import { parseAgent, parseFramework } from "./entities";
import { idOf, isObj, obj, objects, str, type Obj } from "./json";
import { normaliseTask, taskIdOf, taskState, type NormalTask } from "./task";

export interface MasterView {
  /** Agent id → IP. */
  agents: Map<string, string>;
  /** Framework id → name. */
  frameworks: Map<string, string>;
  /** Task id → task: every non-terminal task whose framework and agent are known. */
  tasks: Map<string, NormalTask>;
}

/** Statuses kept per task (the latest-timestamp one is what counts). */
const MAX_STATUSES = 8;

/** Default when SUBSCRIBED has no usable `heartbeat_interval_seconds` (Mesos' own default). */
export const DEFAULT_HEARTBEAT_SECONDS = 15;

const same = (a: NormalTask, b: NormalTask): boolean => JSON.stringify(a) === JSON.stringify(b);

export class MasterViewState {
  readonly agents = new Map<string, string>();
  readonly frameworks = new Map<string, string>();
  readonly tasks = new Map<string, NormalTask>();
  /** Raw task JSON of every non-terminal task, parked ones included. */
  private readonly raw = new Map<string, Obj>();
  /** From SUBSCRIBED. */
  heartbeatSeconds = DEFAULT_HEARTBEAT_SECONDS;
  /** Agents the master recovered from its registry that have not re-registered (from SUBSCRIBED). */
  recoveredAgents: string[] = [];

  constructor(private readonly log: Logger) {}

  /** Applies one decoded event; true when the view changed. Malformed events are logged and ignored. */
  apply(event: Obj): boolean {
    const type = str(event["type"]) ?? "";
    const body = (key: string): Obj => obj(event[key]) ?? {};
    switch (type) {
      case "SUBSCRIBED":
        return this.subscribed(body("subscribed"));
      case "HEARTBEAT":
        return false;
      case "TASK_ADDED":
        return this.upsert(body("task_added")["task"]);
      case "TASK_UPDATED":
        return this.taskUpdated(body("task_updated"));
      case "FRAMEWORK_ADDED":
        return this.frameworkAdded(body("framework_added")["framework"]);
      case "FRAMEWORK_UPDATED":
        return this.frameworkAdded(body("framework_updated")["framework"]);
      case "FRAMEWORK_REMOVED": {
        const f = parseFramework(body("framework_removed")["framework_info"]);
        return f !== undefined && this.frameworks.delete(f.id);
      }
      case "AGENT_ADDED":
        return this.agentAdded(body("agent_added")["agent"]);
      case "AGENT_REMOVED": {
        const id = idOf(body("agent_removed")["agent_id"]);
        return id !== undefined && this.agents.delete(id);
      }
      default:
        this.log.debug({ type }, "mesos: event ignored");
        return false;
    }
  }

  /** A copy of the view (the maps are new; the task objects are never mutated, only replaced). */
  snapshot(): MasterView {
    return { agents: new Map(this.agents), frameworks: new Map(this.frameworks), tasks: new Map(this.tasks) };
  }

  /** Tasks held back because their framework or agent is not known yet. */
  parked(): string[] {
    return [...this.raw.keys()].filter((id) => !this.tasks.has(id));
  }

  private subscribed(s: Obj): boolean {
    const hb = s["heartbeat_interval_seconds"];
    this.heartbeatSeconds = typeof hb === "number" && hb > 0 && Number.isFinite(hb) ? hb : DEFAULT_HEARTBEAT_SECONDS;
    const state = obj(s["get_state"]) ?? {};
    const agents = obj(state["get_agents"]) ?? {};
    for (const a of objects(agents["agents"])) {
      const ref = parseAgent(a);
      if (ref) this.agents.set(ref.id, ref.ip);
    }
    this.recoveredAgents = objects(agents["recovered_agents"])
      .map((a) => parseAgent(a)?.id)
      .filter((id): id is string => id !== undefined && !this.agents.has(id));
    for (const f of objects(obj(state["get_frameworks"])?.["frameworks"])) {
      const ref = parseFramework(f);
      if (ref) this.frameworks.set(ref.id, ref.name);
    }
    for (const t of objects(obj(state["get_tasks"])?.["tasks"])) this.upsert(t);
    return true;
  }

  private taskUpdated(u: Obj): boolean {
    const status = obj(u["status"]);
    const id = idOf(status?.["task_id"]);
    if (!status || id === undefined) {
      this.log.warn("mesos: TASK_UPDATED without status.task_id; ignored");
      return false;
    }
    const prev = this.raw.get(id);
    const task: Obj = prev
      ? { ...prev }
      : { task_id: { value: id }, agent_id: u["agent_id"] ?? status["agent_id"] ?? status["slave_id"], framework_id: u["framework_id"] };
    task["state"] = str(u["state"]) ?? str(status["state"]);
    task["statuses"] = [...objects(prev?.["statuses"]), status].slice(-MAX_STATUSES);
    return this.upsert(task);
  }

  private upsert(task: unknown): boolean {
    const id = taskIdOf(task);
    if (id === undefined || !isObj(task)) {
      this.log.warn("mesos: task without an id; ignored");
      return false;
    }
    if (taskState(str(task["state"])) === "terminal") {
      this.raw.delete(id);
      return this.tasks.delete(id);
    }
    this.raw.set(id, task);
    return this.refresh(id, task);
  }

  /** (Re)normalises one task: into the view when its framework and agent are known, else parked. */
  private refresh(id: string, task: Obj): boolean {
    const fw = idOf(task["framework_id"]);
    const agent = idOf(task["agent_id"]) ?? idOf(task["slave_id"]);
    if (fw === undefined || agent === undefined || !this.frameworks.has(fw) || !this.agents.has(agent)) return this.tasks.delete(id);
    const t = normaliseTask(task, { frameworks: this.frameworks, agents: this.agents });
    if (!t) return false;
    const prev = this.tasks.get(id);
    if (prev && same(prev, t)) return false;
    if (t.problems.length > 0 && JSON.stringify(prev?.problems) !== JSON.stringify(t.problems))
      this.log.warn({ task: id, problems: t.problems }, "mesos: task data problems");
    this.tasks.set(id, t);
    return true;
  }

  private frameworkAdded(f: unknown): boolean {
    const ref = parseFramework(f);
    if (!ref) return false;
    if (this.frameworks.get(ref.id) === ref.name) return false;
    this.frameworks.set(ref.id, ref.name);
    this.refreshWhere((t) => idOf(t["framework_id"]) === ref.id);
    return true;
  }

  private agentAdded(a: unknown): boolean {
    const ref = parseAgent(a);
    if (!ref) return false;
    if (this.agents.get(ref.id) === ref.ip) return false;
    this.agents.set(ref.id, ref.ip);
    this.refreshWhere((t) => (idOf(t["agent_id"]) ?? idOf(t["slave_id"])) === ref.id);
    return true;
  }

  private refreshWhere(pred: (task: Obj) => boolean): void {
    for (const [id, t] of this.raw) if (pred(t)) this.refresh(id, t);
  }
}
