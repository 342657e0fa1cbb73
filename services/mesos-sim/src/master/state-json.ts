import { formatPorts, type MasterState, type MesosAgent, type MesosFramework, type MesosTask, type TaskStatus } from "../model/mesos";
import type { FrameworkRecord } from "../model/launch";
import type { AgentView, ClusterState, TaskView } from "./cluster-state";

/** Who this master is, and who leads (for `leader`, `pid`). */
export interface MasterIdentity {
  id: string;
  ip: string;
  port: number;
  hostname: string;
  startTime: number;
}

export const MESOS_VERSION = "1.11.0";

const secs = (ms: number): number => ms / 1000;

function stripIds(s: TaskStatus): MesosTask["statuses"][number] {
  const { task_id: _t, agent_id: _a, slave_id: _s, ...rest } = s;
  return rest;
}

/** A task in the `/master/state` (v0) shape. */
export function taskJson(t: TaskView): MesosTask {
  const l = t.launch;
  return {
    id: l.taskId,
    name: l.name,
    framework_id: l.frameworkId,
    executor_id: "",
    slave_id: l.agentId,
    state: t.state,
    resources: { cpus: l.cpus, mem: l.mem, disk: l.disk, ...(l.hostPorts.length ? { ports: formatPorts(l.hostPorts) } : {}) },
    statuses: t.statuses.map(stripIds),
    ...(l.labels.length ? { labels: l.labels } : {}),
    ...(l.discovery ? { discovery: l.discovery } : {}),
    ...(l.container ? { container: l.container } : {}),
  };
}

export function agentJson(a: AgentView): MesosAgent {
  const r = a.record;
  return {
    id: r.id,
    pid: `slave(1)@${r.ip}:${r.port}`,
    hostname: r.hostname,
    registered_time: secs(r.registeredAt),
    active: a.active,
    resources: { cpus: r.cpus, mem: r.mem, disk: r.disk, ports: `[${r.portRange[0]}-${r.portRange[1]}]` },
    attributes: r.attributes,
  };
}

function frameworksJson(state: ClusterState, frameworks: FrameworkRecord[]): MesosFramework[] {
  return frameworks.map((f) => ({
    id: f.id,
    name: f.name,
    pid: f.pid,
    hostname: f.hostname,
    active: true,
    role: "*",
    user: "root",
    registered_time: secs(f.registeredTime),
    tasks: [...state.tasks.values()].filter((t) => t.launch.frameworkId === f.id).map(taskJson),
    completed_tasks: state.completed.filter((t) => t.launch.frameworkId === f.id).map(taskJson),
  }));
}

/** `GET /master/state`: the document Mesos-DNS and dcos-net read. */
export function masterStateJson(
  me: MasterIdentity,
  leader: { id: string; ip: string; port: number; hostname: string; electedAt: number } | undefined,
  state: ClusterState,
  frameworks: FrameworkRecord[],
): MasterState {
  const agents = [...state.agents.values()];
  return {
    version: MESOS_VERSION,
    id: me.id,
    pid: `master@${me.ip}:${me.port}`,
    hostname: me.hostname,
    leader: leader ? `master@${leader.ip}:${leader.port}` : "",
    ...(leader
      ? {
          leader_info: {
            id: leader.id,
            pid: `master@${leader.ip}:${leader.port}`,
            hostname: leader.hostname,
            ip: ipToInt(leader.ip),
            port: leader.port,
          },
        }
      : {}),
    activated_slaves: agents.filter((a) => a.active).length,
    deactivated_slaves: agents.filter((a) => !a.active).length,
    start_time: secs(me.startTime),
    ...(leader && leader.id === me.id ? { elected_time: secs(leader.electedAt) } : {}),
    slaves: agents.filter((a) => a.active).map(agentJson),
    frameworks: frameworksJson(state, frameworks),
    completed_frameworks: [],
    flags: { port: String(me.port), hostname: me.hostname },
  };
}

/** Mesos packs the IPv4 address little-endian into an int in MasterInfo. */
function ipToInt(ip: string): number {
  const p = ip.split(".").map(Number);
  if (p.length !== 4 || p.some((n) => !(n >= 0 && n <= 255))) return 0;
  return (p[0]! | (p[1]! << 8) | (p[2]! << 16) | (p[3]! << 24)) >>> 0;
}

// ---- v1 Operator API shapes ----

const scalar = (name: string, value: number) => ({ name, type: "SCALAR", scalar: { value } });

/** A task in the v1 Operator API shape (`GET_STATE`, `TASK_ADDED`). */
export function taskV1(t: TaskView): Record<string, unknown> {
  const l = t.launch;
  const ports = [...l.hostPorts].sort((a, b) => a - b);
  return {
    name: l.name,
    task_id: { value: l.taskId },
    framework_id: { value: l.frameworkId },
    agent_id: { value: l.agentId },
    state: t.state,
    resources: [
      scalar("cpus", l.cpus),
      scalar("mem", l.mem),
      scalar("disk", l.disk),
      ...(ports.length ? [{ name: "ports", type: "RANGES", ranges: { range: ports.map((p) => ({ begin: p, end: p })) } }] : []),
    ],
    statuses: t.statuses,
    ...(t.statuses.length ? { status_update_state: t.state } : {}),
    ...(l.labels.length ? { labels: { labels: l.labels } } : {}),
    ...(l.discovery ? { discovery: l.discovery } : {}),
    ...(l.container ? { container: l.container } : {}),
  };
}

export function agentV1(a: AgentView): Record<string, unknown> {
  const r = a.record;
  return {
    agent_info: {
      id: { value: r.id },
      hostname: r.hostname,
      port: r.port,
      resources: [
        scalar("cpus", r.cpus),
        scalar("mem", r.mem),
        scalar("disk", r.disk),
        { name: "ports", type: "RANGES", ranges: { range: [{ begin: r.portRange[0], end: r.portRange[1] }] } },
      ],
      attributes: Object.entries(r.attributes).map(([name, value]) => ({ name, type: "TEXT", text: { value } })),
    },
    active: a.active,
    pid: `slave(1)@${r.ip}:${r.port}`,
    registered_time: { nanoseconds: r.registeredAt * 1_000_000 },
  };
}

export function frameworkV1(f: FrameworkRecord): Record<string, unknown> {
  return {
    framework_info: { id: { value: f.id }, name: f.name, user: "root", hostname: f.hostname, role: "*" },
    active: true,
    connected: true,
    recovered: false,
    registered_time: { nanoseconds: f.registeredTime * 1_000_000 },
  };
}

export function getStateV1(state: ClusterState, frameworks: FrameworkRecord[]): Record<string, unknown> {
  return {
    get_tasks: { tasks: [...state.tasks.values()].map(taskV1), completed_tasks: state.completed.map(taskV1) },
    get_executors: {},
    get_frameworks: { frameworks: frameworks.map(frameworkV1) },
    get_agents: { agents: [...state.agents.values()].filter((a) => a.active).map(agentV1), recovered_agents: [] },
  };
}
