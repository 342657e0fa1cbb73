/**
 * `dcos.thisdcos.directory` from the leading master's task view (spec §3.5, §3.6):
 * for every running task `<task>.<framework>.{agentip,containerip,autoip}.dcos.thisdcos.directory`,
 * plus `master.` (every master) and `leader.` (the leading master).
 * - agentip → the agent's IP;
 * - containerip → every task IP (A and AAAA); no record when the task has none;
 * - autoip → the agent's IP when any port of the task has a host port, else the task IPs (the
 *   agent's IP when the task has none).
 * Task and framework names go through the MSTATE sanitiser; tasks with the same names add up
 * (one record per distinct address), and killing or other non-running tasks have no records.
 */
import { dnsLabel, type NormalTask } from "@dcnet/mesos";
import { type RecordValues, type ZoneData, DCOS_ZONE, addRecord } from "./zone";

export function dcosZone(tasks: Iterable<NormalTask>, masters: readonly string[], leader: string | null): ZoneData {
  const records = new Map<string, RecordValues>();
  for (const t of tasks) {
    if (t.state !== "running") continue;
    const task = dnsLabel(t.name);
    const fw = dnsLabel(t.framework);
    if (task === "" || fw === "") continue;
    const base = `${task}.${fw}.`;
    if (t.agentIp) add(records, base + "agentip." + DCOS_ZONE, t.agentIp);
    for (const ip of t.taskIps) add(records, base + "containerip." + DCOS_ZONE, ip);
    const hostPorts = t.ports.some((p) => p.hostPort !== undefined);
    const auto = hostPorts || t.taskIps.length === 0 ? (t.agentIp ? [t.agentIp] : []) : t.taskIps;
    for (const ip of auto) add(records, base + "autoip." + DCOS_ZONE, ip);
  }
  for (const m of masters) add(records, "master." + DCOS_ZONE, m);
  if (leader) add(records, "leader." + DCOS_ZONE, leader);
  return { zone: DCOS_ZONE, records };
}

function add(records: Map<string, RecordValues>, name: string, ip: string): void {
  addRecord(records, name, ip.includes(":") ? "aaaa" : "a", ip);
}
