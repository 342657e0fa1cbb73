/**
 * Mesos JSON shapes, exactly as a Mesos 1.x master and agent serve them in
 * `/master/state`, `/state` and the v1 Operator API (snake_case, as in
 * ../shared/mesos-dns-fixtures/fake.json). Only what dcnet's consumers read
 * and what mesos-sim fills in is typed; real Mesos has more fields.
 */

export type TaskState =
  | "TASK_STAGING"
  | "TASK_STARTING"
  | "TASK_RUNNING"
  | "TASK_KILLING"
  | "TASK_FINISHED"
  | "TASK_FAILED"
  | "TASK_KILLED"
  | "TASK_LOST"
  | "TASK_ERROR";

export const TERMINAL_STATES: ReadonlySet<TaskState> = new Set(["TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR"]);

export interface Label {
  key: string;
  value: string;
}

export interface Labels {
  labels: Label[];
}

export interface IpAddress {
  protocol?: "IPv4" | "IPv6";
  ip_address: string;
}

export interface PortMapping {
  host_port: number;
  container_port: number;
  protocol?: string;
}

export interface NetworkInfo {
  ip_addresses?: IpAddress[];
  name?: string;
  groups?: string[];
  labels?: Labels;
  port_mappings?: PortMapping[];
}

export interface TaskStatus {
  task_id: { value: string };
  agent_id?: { value: string };
  slave_id?: { value: string };
  state: TaskState;
  /** Seconds since the epoch, with fractions (as Mesos). */
  timestamp: number;
  message?: string;
  reason?: string;
  source?: "SOURCE_MASTER" | "SOURCE_AGENT" | "SOURCE_EXECUTOR";
  healthy?: boolean;
  labels?: Labels;
  container_status?: {
    container_id?: { value: string };
    network_infos?: NetworkInfo[];
    executor_pid?: number;
  };
}

export interface DiscoveryPort {
  number: number;
  name?: string;
  protocol?: string;
  labels?: Labels;
}

export interface DiscoveryInfo {
  visibility: "FRAMEWORK" | "CLUSTER" | "EXTERNAL";
  name?: string;
  ports?: { ports: DiscoveryPort[] };
  labels?: Labels;
}

export interface ContainerInfo {
  type: "DOCKER" | "MESOS";
  docker?: {
    image: string;
    network?: "HOST" | "BRIDGE" | "USER" | "NONE";
    port_mappings?: PortMapping[];
    privileged?: boolean;
  };
  network_infos?: NetworkInfo[];
}

/** A task as the master's `/master/state` lists it under `frameworks[].tasks[]`. */
export interface MesosTask {
  id: string;
  name: string;
  framework_id: string;
  executor_id: string;
  slave_id: string;
  state: TaskState;
  resources: { cpus: number; mem: number; disk: number; ports?: string };
  statuses: Omit<TaskStatus, "task_id" | "agent_id" | "slave_id">[];
  labels?: Label[];
  discovery?: DiscoveryInfo;
  container?: ContainerInfo;
}

export interface MesosAgent {
  id: string;
  pid: string;
  hostname: string;
  registered_time: number;
  active: boolean;
  resources: { cpus: number; mem: number; disk: number; ports: string };
  attributes: Record<string, string>;
}

export interface MesosFramework {
  id: string;
  name: string;
  pid: string;
  hostname: string;
  active: boolean;
  role: string;
  user: string;
  registered_time: number;
  tasks: MesosTask[];
  completed_tasks: MesosTask[];
}

export interface MasterState {
  version: string;
  id: string;
  pid: string;
  hostname: string;
  leader: string;
  leader_info?: { id: string; pid: string; hostname: string; ip: number; port: number };
  activated_slaves: number;
  deactivated_slaves: number;
  start_time: number;
  elected_time?: number;
  slaves: MesosAgent[];
  frameworks: MesosFramework[];
  completed_frameworks: MesosFramework[];
  flags: Record<string, string>;
}

/** `[31000-31002, 31005-31005]` from a sorted list of ports. */
export function formatPorts(ports: readonly number[]): string {
  const sorted = [...ports].sort((a, b) => a - b);
  const ranges: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    ranges.push(`${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return `[${ranges.join(", ")}]`;
}

/** The inverse of formatPorts; throws on a malformed range. */
export function parsePorts(text: string): number[] {
  const inner = text.trim().replace(/^\[/, "").replace(/\]$/, "").trim();
  if (!inner) return [];
  const out: number[] = [];
  for (const item of inner.split(",")) {
    const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(item);
    if (!m) throw new Error(`bad port range "${item.trim()}"`);
    const lo = Number(m[1]);
    const hi = Number(m[2]);
    if (lo > hi || hi > 65535) throw new Error(`bad port range "${item.trim()}"`);
    for (let p = lo; p <= hi; p++) out.push(p);
  }
  return out;
}
