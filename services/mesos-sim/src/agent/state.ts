import type { AgentRecord } from "../model/launch";
import { toMesosTask, toV1Task, v1Resources, type TaskView } from "./status";

/** What the HTTP views read from the agent. */
export interface AgentView {
  record: AgentRecord;
  startedAtMs: number;
  workDir: string;
  live: readonly TaskView[];
  completed: readonly TaskView[];
}

const rangePorts = (r: readonly [number, number]): string => `[${r[0]}-${r[1]}]`;
const pidOf = (a: AgentRecord): string => `slave(1)@${a.ip}:${a.port}`;

function byFramework(tasks: readonly TaskView[]): Map<string, TaskView[]> {
  const out = new Map<string, TaskView[]>();
  for (const t of tasks) out.set(t.launch.frameworkId, [...(out.get(t.launch.frameworkId) ?? []), t]);
  return out;
}

/** One command executor per task (id = task id), as Mesos runs command tasks. */
function executor(t: TaskView, live: boolean) {
  const task = toMesosTask(t);
  return {
    id: t.launch.taskId,
    name: `Command Executor (Task: ${t.launch.taskId}) (Command: sh -c '${t.launch.cmd.slice(0, 60)}')`,
    source: t.launch.taskId,
    framework_id: t.launch.frameworkId,
    directory: "",
    resources: task.resources,
    tasks: live ? [task] : [],
    queued_tasks: [],
    completed_tasks: live ? [] : [task],
  };
}

/** Framework id → name from the launches (the id itself when a launch does not say). */
function frameworkNames(tasks: readonly TaskView[]): (id: string) => string {
  const names = new Map<string, string>();
  for (const t of tasks) if (t.launch.frameworkName) names.set(t.launch.frameworkId, t.launch.frameworkName);
  return (id) => names.get(id) ?? id;
}

/** `GET /state` of a Mesos agent (v0 JSON): live tasks under `executors`, finished ones under `completed_executors`. */
export function agentState(v: AgentView) {
  const a = v.record;
  const live = byFramework(v.live);
  const done = byFramework(v.completed);
  const frameworkIds = [...new Set([...live.keys(), ...done.keys()])].sort();
  const nameOf = frameworkNames([...v.live, ...v.completed]);
  return {
    version: "1.11.0",
    build_version: "dcnet mesos-sim",
    id: a.id,
    pid: pidOf(a),
    hostname: a.hostname,
    start_time: v.startedAtMs / 1000,
    resources: { cpus: a.cpus, mem: a.mem, disk: a.disk, ports: rangePorts(a.portRange) },
    attributes: a.attributes,
    frameworks: frameworkIds.map((id) => ({
      id,
      name: nameOf(id),
      role: "*",
      executors: (live.get(id) ?? []).map((t) => executor(t, true)),
      completed_executors: (done.get(id) ?? []).map((t) => executor(t, false)),
    })),
    completed_frameworks: [],
    flags: {
      port: String(a.port),
      work_dir: v.workDir,
      resources: `cpus:${a.cpus};mem:${a.mem};disk:${a.disk};ports:${rangePorts(a.portRange)}`,
      ...(a.bridgeSubnet ? { bridge_subnet: a.bridgeSubnet } : {}),
    },
  };
}

/** `POST /api/v1 {"type":"GET_STATE"}` of a Mesos agent (v1 Operator API; simplified: see README). */
export function v1GetState(v: AgentView) {
  const frameworkIds = [...new Set([...v.live, ...v.completed].map((t) => t.launch.frameworkId))].sort();
  const nameOf = frameworkNames([...v.live, ...v.completed]);
  const execInfo = (t: TaskView) => ({
    executor_info: {
      executor_id: { value: t.launch.taskId },
      framework_id: { value: t.launch.frameworkId },
      name: `Command Executor (Task: ${t.launch.taskId})`,
      type: "DEFAULT",
      command: { shell: true, value: t.launch.cmd },
    },
  });
  return {
    get_tasks: {
      launched_tasks: v.live.map(toV1Task),
      completed_tasks: v.completed.map(toV1Task),
    },
    get_frameworks: {
      frameworks: frameworkIds.map((id) => ({ framework_info: { id: { value: id }, name: nameOf(id), user: "root" } })),
      completed_frameworks: [],
    },
    get_executors: {
      executors: v.live.map(execInfo),
      completed_executors: v.completed.map(execInfo),
    },
  };
}

/** `GET_AGENT` (v1): the agent's info and resources. */
export function v1GetAgent(v: AgentView) {
  const a = v.record;
  return {
    agent_info: {
      id: { value: a.id },
      hostname: a.hostname,
      port: a.port,
      resources: v1Resources({
        cpus: a.cpus,
        mem: a.mem,
        disk: a.disk,
        ranges: [{ begin: a.portRange[0], end: a.portRange[1] }],
      }),
      attributes: Object.entries(a.attributes).map(([name, value]) => ({ name, type: "TEXT", text: { value } })),
    },
  };
}
