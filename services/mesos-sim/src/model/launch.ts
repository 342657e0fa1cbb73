import type { ContainerInfo, DiscoveryInfo, Label } from "./mesos";

/**
 * What the leading master asks an agent to run (written to the bus KV under
 * the agent's key, see kv-layout.ts). The scheduler has already picked the
 * agent and the host ports; the agent only launches, watches and reports.
 */
export interface TaskLaunch {
  taskId: string;
  /** Mesos task name (`myapp.mygroup` for Marathon app `/mygroup/myapp`). */
  name: string;
  frameworkId: string;
  /** The framework's name (`marathon`); agents report it in their state (dcos-net names tasks `<task>.<framework>`). */
  frameworkName?: string;
  agentId: string;
  /** Marathon app id (`/mygroup/myapp`), when launched by Marathon. */
  appId?: string;
  /** Marathon app version the task was launched from (a newer version replaces it). */
  appVersion?: string;
  /** Shell command (`sh -c`). */
  cmd: string;
  /** Extra environment (app `env`); the agent adds MESOS_TASK_ID, HOST, PORT0…, PORTS, PORT_<NAME>. */
  env: Record<string, string>;
  cpus: number;
  mem: number;
  disk: number;
  network: TaskNetwork;
  /**
   * Host ports taken on the agent, in port-definition / port-mapping order
   * (already allocated: never 0). Host mode: the task listens on them
   * (PORT0…). Bridge mode: hostPorts[i] is DNATed to portMappings[i].containerPort.
   */
  hostPorts: number[];
  healthChecks: HealthCheck[];
  /** SIGTERM, then SIGKILL after this many seconds (Marathon default 3). */
  killGracePeriodSeconds: number;
  /** Passed through to the Mesos task as Marathon does (task labels, discovery, container). */
  labels: Label[];
  discovery?: DiscoveryInfo;
  container?: ContainerInfo;
  /** Set by the master to ask the agent to kill the task. */
  kill?: boolean;
}

export interface PortMappingSpec {
  containerPort: number;
  /** The requested host port; 0 = allocated (the allocated one is in TaskLaunch.hostPorts). */
  hostPort: number;
  protocol: "tcp" | "udp" | "tcp,udp";
  name?: string;
  labels?: Record<string, string>;
}

export type TaskNetwork =
  | { mode: "host" }
  | { mode: "bridge"; portMappings: PortMappingSpec[] }
  | { mode: "container"; networkName: string; groups: string[]; labels: Record<string, string>; portMappings: PortMappingSpec[] };

export type HealthCheck =
  | { protocol: "HTTP" | "MESOS_HTTP"; path: string; portIndex: number; common: HealthCheckTiming }
  | { protocol: "TCP" | "MESOS_TCP"; portIndex: number; common: HealthCheckTiming }
  | { protocol: "COMMAND"; command: string; common: HealthCheckTiming };

export interface HealthCheckTiming {
  gracePeriodSeconds: number;
  intervalSeconds: number;
  timeoutSeconds: number;
  maxConsecutiveFailures: number;
  delaySeconds: number;
}

/** What an agent registers (written under its own key). */
export interface AgentRecord {
  id: string;
  /** The agent's IP (tasks in host mode are reached on it). */
  ip: string;
  hostname: string;
  port: number;
  /** Inclusive port range offered to tasks, e.g. [31000, 32000]. */
  portRange: [number, number];
  cpus: number;
  mem: number;
  disk: number;
  /** Bridge subnet for bridge-mode tasks (CIDR), when bridge mode is available. */
  bridgeSubnet?: string;
  /** Why bridge mode is unavailable (no root / no netns), when it is. */
  bridgeUnavailable?: string;
  registeredAt: number;
  attributes: Record<string, string>;
}

/** A framework as the leading master registered it (written under `frameworks.<name>`). */
export interface FrameworkRecord {
  id: string;
  name: string;
  hostname: string;
  /** `scheduler(1)@ip:port`, as Mesos-DNS reads it. */
  pid: string;
  registeredTime: number;
}

/**
 * The seam for virtual networks (container mode): the overlay agent
 * implements it. Until then the agent fails such tasks with a clear reason.
 */
export interface ContainerNetworkProvider {
  /** Creates the task's network namespace attachment; returns its IP(s). */
  attach(task: TaskLaunch, netnsPath: string): Promise<{ ips: string[]; networkName: string }>;
  detach(task: TaskLaunch): Promise<void>;
}
