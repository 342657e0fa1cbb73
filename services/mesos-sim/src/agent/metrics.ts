import { counter, gauge, type Registry } from "@dcnet/core";
import type { TaskState } from "../model/mesos";

export interface AgentMetrics {
  setTasks(counts: Partial<Record<TaskState, number>>): void;
  launched(mode: string): void;
  healthCheckFailed(): void;
}

const STATES: TaskState[] = [
  "TASK_STAGING",
  "TASK_STARTING",
  "TASK_RUNNING",
  "TASK_KILLING",
  "TASK_FINISHED",
  "TASK_FAILED",
  "TASK_KILLED",
  "TASK_LOST",
  "TASK_ERROR",
];

/** prom-client metrics, labelled by agent (several agents may share one registry). */
export function agentMetrics(registry: Registry, agentId: string): AgentMetrics {
  const tasks = gauge(registry, "dcnet_mesos_agent_tasks", "Tasks this agent knows, by state (completed ones as kept for /state)", [
    "agent",
    "state",
  ]);
  const launches = counter(registry, "dcnet_mesos_agent_launches_total", "Task launches received, by network mode", ["agent", "mode"]);
  const healthFailures = counter(registry, "dcnet_mesos_agent_health_check_failures_total", "Health check failures that counted", [
    "agent",
  ]);
  return {
    setTasks: (counts) => {
      for (const state of STATES) tasks.set({ agent: agentId, state }, counts[state] ?? 0);
    },
    launched: (mode) => launches.inc({ agent: agentId, mode }),
    healthCheckFailed: () => healthFailures.inc({ agent: agentId }),
  };
}
