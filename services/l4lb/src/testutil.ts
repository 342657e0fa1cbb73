import type { NormalTask, TaskPort } from "@dcnet/mesos";

/** A running, healthy MESOS task on agent 10.0.0.1 with one IP, overridable field by field. */
export function task(over: Partial<NormalTask> & { id: string }): NormalTask {
  return {
    name: "minitwit",
    frameworkId: "fw-1",
    framework: "marathon",
    agentId: "agent-1",
    agentIp: "10.0.0.1",
    taskIps: ["172.17.0.2"],
    state: "running",
    healthy: true,
    runtime: "MESOS",
    ports: [],
    problems: [],
    vipProblems: [],
    ...over,
  };
}

/** A tcp port with VIP labels given as values (`VIP_0`, `VIP_1`, …). */
export function port(portNumber: number, vips: string[], over: Partial<TaskPort> = {}): TaskPort {
  return { protocol: "tcp", port: portNumber, vips: vips.map((value, i) => ({ key: `VIP_${i}`, value })), ...over };
}
