/**
 * One Mesos task, normalised as dcos-net does it (spec dcos-net.md §2.1; NET
 * `dcos_net_mesos_listener.erl`), from either JSON shape: the `/master/state` one (`id`,
 * `slave_id`, `framework_id` strings, `resources.ports` as a range string, labels as an array)
 * or the v1 Operator API one (`task_id`/`agent_id`/`framework_id` as `{value}`, `resources` as a
 * list, labels as `{labels}`). Never throws: what cannot be used is reported in `problems`.
 */
import { isIP } from "node:net";
import { idOf, isObj, labelsOf, obj, objects, str, type Obj } from "./json";
import { taskPorts, type TaskPort, type VipLabelProblem } from "./task-ports";

export type { TaskPort, VipLabel, VipLabelProblem } from "./task-ports";

export type TaskState = "preparing" | "running" | "killing" | "terminal";

export interface NormalTask {
  id: string;
  /** `discovery.name` when present (non-empty), else the task name. */
  name: string;
  frameworkId: string;
  /** Framework name from the context, `""` if unknown. */
  framework: string;
  agentId: string;
  /** Agent IP from the context, `""` if unknown. */
  agentIp: string;
  /** Every IP in `container_status.network_infos[].ip_addresses[]` of the latest-timestamp status (of the latest one reporting any, when it has none). */
  taskIps: string[];
  state: TaskState;
  /** The latest health-check verdict; `false` while a health check is defined but has no verdict yet; `true` without health checks. */
  healthy: boolean;
  runtime: "MESOS" | "DOCKER";
  ports: TaskPort[];
  problems: string[];
  /** VIP labels dropped with their port or as malformed legacy labels (also in `problems`); a VIP consumer reports them. */
  vipProblems: VipLabelProblem[];
}

export interface NormaliseContext {
  /** Framework id → name. */
  frameworks: Map<string, string>;
  /** Agent id → IP. */
  agents: Map<string, string>;
}

/** Mesos `isTerminalState` (1.5+). */
const TERMINAL = new Set([
  "TASK_FINISHED",
  "TASK_FAILED",
  "TASK_KILLED",
  "TASK_LOST",
  "TASK_ERROR",
  "TASK_DROPPED",
  "TASK_GONE",
  "TASK_GONE_BY_OPERATOR",
]);

export function taskState(mesosState: string | undefined): TaskState {
  if (mesosState === "TASK_RUNNING") return "running";
  if (mesosState === "TASK_KILLING") return "killing";
  if (mesosState !== undefined && TERMINAL.has(mesosState)) return "terminal";
  return "preparing";
}

/** The task id of a task object of either shape (`task_id.value` or `id`). */
export function taskIdOf(task: unknown): string | undefined {
  if (!isObj(task)) return undefined;
  return idOf(task["task_id"]) ?? idOf(task["id"]);
}

/** The task's statuses, latest first (by `timestamp`; the later one in the list first on ties). */
function statusesLatestFirst(task: Obj): Obj[] {
  return objects(task["statuses"])
    .map((s, i) => ({ s, i, t: typeof s["timestamp"] === "number" && Number.isFinite(s["timestamp"]) ? s["timestamp"] : -Infinity }))
    .sort((a, b) => b.t - a.t || b.i - a.i)
    .map((x) => x.s);
}

function ipsOf(status: Obj | undefined): string[] {
  const out: string[] = [];
  for (const ni of objects(obj(status?.["container_status"])?.["network_infos"])) {
    for (const a of objects(ni["ip_addresses"])) {
      const ip = str(a["ip_address"]);
      if (ip !== undefined && isIP(ip) && !out.includes(ip)) out.push(ip);
    }
  }
  return out;
}

/**
 * The status the task's network is read from: the latest-timestamp one, or the latest one that
 * reports IPs when it reports none (dcos-net keeps a task's IPs when a TASK_UPDATED status carries
 * none, e.g. a TASK_KILLING from an executor that does not repeat them).
 */
function networkStatus(task: Obj): { status: Obj | undefined; ips: string[] } {
  const statuses = statusesLatestFirst(task);
  for (const s of statuses) {
    const ips = ipsOf(s);
    if (ips.length > 0) return { status: s, ips };
  }
  return { status: statuses[0], ips: [] };
}

/** The most recent health verdict; else `false` when the task defines a health check, else `true`. */
function healthy(task: Obj): boolean {
  for (const s of statusesLatestFirst(task)) if (typeof s["healthy"] === "boolean") return s["healthy"];
  return task["health_check"] === undefined || task["health_check"] === null;
}

function runtime(task: Obj, problems: string[]): "MESOS" | "DOCKER" {
  const type = obj(task["container"])?.["type"];
  if (type === "DOCKER") return "DOCKER";
  if (type !== undefined && type !== "MESOS") problems.push(`container.type ${JSON.stringify(type)} is not MESOS or DOCKER; read as MESOS`);
  return "MESOS";
}

/**
 * Normalises one task (spec §2.1). `null` when `task` is not an object with a task id
 * (`task_id.value` or `id`). The state comes from `task.state` (a TASK_UPDATED event's `state`
 * must be put there by the caller, DCOS_OSS-3539). Framework name and agent IP come from `ctx`
 * (`""` when unknown).
 */
export function normaliseTask(task: unknown, ctx: NormaliseContext): NormalTask | null {
  const id = taskIdOf(task);
  if (id === undefined || !isObj(task)) return null;
  const problems: string[] = [];
  const vipProblems: VipLabelProblem[] = [];
  const frameworkId = idOf(task["framework_id"]) ?? "";
  const agentId = idOf(task["agent_id"]) ?? idOf(task["slave_id"]) ?? "";
  const agentIp = ctx.agents.get(agentId) ?? "";
  const base = {
    id,
    name: "",
    frameworkId,
    framework: ctx.frameworks.get(frameworkId) ?? "",
    agentId,
    agentIp,
    taskIps: [] as string[],
    state: taskState(str(task["state"])),
    healthy: true,
    runtime: "MESOS" as const,
    ports: [] as TaskPort[],
    problems,
    vipProblems,
  };
  try {
    const discoveryName = str(obj(task["discovery"])?.["name"]);
    const name = discoveryName || str(task["name"]) || "";
    if (name === "") problems.push("task has no name");
    const { status, ips } = networkStatus(task);
    const rt = runtime(task, problems);
    const hostNetworked = ips.length === 0 || (ips.length === 1 && ips[0] === agentIp);
    const ports = taskPorts(
      { task, networkStatus: status, runtime: rt, legacyLabels: labelsOf(task["labels"]), hostNetworked },
      problems,
      vipProblems,
    );
    return { ...base, name, taskIps: ips, healthy: healthy(task), runtime: rt, ports };
  } catch (err) {
    // Not expected (the readers are total); a bug here must not take the stream down.
    problems.push(`normalisation failed: ${(err as Error).message}`);
    return base;
  }
}
