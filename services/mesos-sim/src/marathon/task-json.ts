import type { AgentView, TaskView } from "../master/cluster-state";
import type { NormalizedApp } from "../model/app";
import { TERMINAL_STATES } from "../model/mesos";

const iso = (secs: number | undefined): string | null => (secs ? new Date(secs * 1000).toISOString() : null);

/** A task in Marathon's `/v2/tasks` shape. */
export function marathonTask(t: TaskView, agent: AgentView | undefined): Record<string, unknown> {
  const l = t.launch;
  const last = t.statuses[t.statuses.length - 1];
  const running = t.statuses.find((s) => s.state === "TASK_RUNNING");
  const ips = (last?.container_status?.network_infos ?? []).flatMap((n) => n.ip_addresses ?? []);
  return {
    id: l.taskId,
    appId: l.appId,
    host: agent?.record.hostname ?? l.agentId,
    slaveId: l.agentId,
    state: t.state,
    ipAddresses: ips.map((ip) => ({ ipAddress: ip.ip_address, protocol: ip.protocol ?? "IPv4" })),
    ports: l.hostPorts,
    servicePorts: [],
    stagedAt: iso(t.statuses[0]?.timestamp),
    startedAt: iso(running?.timestamp),
    version: l.appVersion,
    ...(l.healthChecks.length
      ? { healthCheckResults: last?.healthy === undefined ? [] : [{ alive: last.healthy, taskId: l.taskId, instanceId: l.taskId }] }
      : {}),
  };
}

/** An app as `/v2/apps` returns it: the stored JSON plus task counts. */
export function marathonApp(app: NormalizedApp, tasks: TaskView[]): Record<string, unknown> {
  const live = tasks.filter((t) => !TERMINAL_STATES.has(t.state));
  const healthOf = (t: TaskView): boolean | undefined => t.statuses[t.statuses.length - 1]?.healthy;
  return {
    ...app.json,
    id: app.id,
    instances: app.instances,
    version: app.version,
    tasksStaged: live.filter((t) => t.state === "TASK_STAGING" || t.state === "TASK_STARTING").length,
    tasksRunning: live.filter((t) => t.state === "TASK_RUNNING").length,
    tasksHealthy: live.filter((t) => t.state === "TASK_RUNNING" && healthOf(t) === true).length,
    tasksUnhealthy: live.filter((t) => t.state === "TASK_RUNNING" && healthOf(t) === false).length,
    deployments: [],
  };
}
