import type { TaskLaunch } from "../model/launch";
import { formatPorts, type MesosTask, type NetworkInfo, type TaskState, type TaskStatus } from "../model/mesos";

export interface StatusFields {
  state: TaskState;
  message?: string;
  reason?: string;
  healthy?: boolean;
  networkInfos?: NetworkInfo[];
  pid?: number;
}

/** A Mesos `TaskStatus` as the agent writes it to `status.<agent>.<task>` (timestamp in seconds). */
export function makeStatus(taskId: string, agentId: string, f: StatusFields, nowMs = Date.now()): TaskStatus {
  const status: TaskStatus = {
    task_id: { value: taskId },
    agent_id: { value: agentId },
    slave_id: { value: agentId },
    state: f.state,
    timestamp: nowMs / 1000,
    source: "SOURCE_EXECUTOR",
  };
  if (f.message !== undefined) status.message = f.message;
  if (f.reason !== undefined) status.reason = f.reason;
  if (f.healthy !== undefined) status.healthy = f.healthy;
  if (f.networkInfos || f.pid !== undefined) {
    status.container_status = {
      container_id: { value: `${taskId}.container` },
      ...(f.networkInfos ? { network_infos: f.networkInfos } : {}),
      ...(f.pid !== undefined ? { executor_pid: f.pid } : {}),
    };
  }
  return status;
}

/** What the HTTP views need of a task. */
export interface TaskView {
  launch: TaskLaunch;
  state: TaskState;
  statuses: readonly TaskStatus[];
}

/** The task as `/state` lists it (v0 JSON, MesosTask). */
export function toMesosTask(t: TaskView): MesosTask {
  const l = t.launch;
  const task: MesosTask = {
    id: l.taskId,
    name: l.name,
    framework_id: l.frameworkId,
    executor_id: l.taskId,
    slave_id: l.agentId,
    state: t.state,
    resources: { cpus: l.cpus, mem: l.mem, disk: l.disk, ...(l.hostPorts.length ? { ports: formatPorts(l.hostPorts) } : {}) },
    statuses: t.statuses.map(({ task_id: _t, agent_id: _a, slave_id: _s, ...rest }) => rest),
  };
  if (l.labels.length) task.labels = l.labels;
  if (l.discovery) task.discovery = l.discovery;
  if (l.container) task.container = l.container;
  return task;
}

/** Ports as v1 RANGES: [{begin, end}] from a list. */
export function portRanges(ports: readonly number[]): { begin: number; end: number }[] {
  const sorted = [...ports].sort((a, b) => a - b);
  const out: { begin: number; end: number }[] = [];
  for (const p of sorted) {
    const last = out[out.length - 1];
    if (last && p === last.end + 1) last.end = p;
    else out.push({ begin: p, end: p });
  }
  return out;
}

/** A `Resource` list in the v1 shape (scalars and the ports ranges). */
export function v1Resources(r: { cpus: number; mem: number; disk: number; ranges: { begin: number; end: number }[] }) {
  const scalar = (name: string, value: number) => ({ name, type: "SCALAR", scalar: { value } });
  return [
    scalar("cpus", r.cpus),
    scalar("mem", r.mem),
    scalar("disk", r.disk),
    ...(r.ranges.length ? [{ name: "ports", type: "RANGES", ranges: { range: r.ranges } }] : []),
  ];
}

/** The task in the v1 Operator API shape (`GET_STATE.get_tasks`). */
export function toV1Task(t: TaskView) {
  const l = t.launch;
  return {
    name: l.name,
    task_id: { value: l.taskId },
    framework_id: { value: l.frameworkId },
    executor_id: { value: l.taskId },
    agent_id: { value: l.agentId },
    state: t.state,
    resources: v1Resources({ cpus: l.cpus, mem: l.mem, disk: l.disk, ranges: portRanges(l.hostPorts) }),
    statuses: [...t.statuses],
    ...(t.statuses.length ? { status_update_state: t.state } : {}),
    ...(l.labels.length ? { labels: { labels: l.labels } } : {}),
    ...(l.discovery ? { discovery: l.discovery } : {}),
    ...(l.container ? { container: l.container } : {}),
  };
}
