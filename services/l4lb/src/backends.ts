/**
 * One agent's backends (spec §4.2): from the normalised tasks of ONE agent, every VIP its tasks
 * serve and the addresses behind it. This is what the agent publishes on the bus
 * (`l4lb.backends.<agent-ip>`); readers take the union over agents.
 *
 * - Only `running` and `killing` tasks count.
 * - A port with a host port → backend `<agentIp>:<hostPort>`; otherwise one backend per task IP
 *   with the container port. A task without task IPs (host networking where Mesos reports none)
 *   is reached at the agent IP.
 * - Address families: an IPv4 IP VIP takes IPv4 backends, an IPv6 IP VIP IPv6 backends; a named
 *   VIP takes both (it gets an address per family, §4.4). IPv6 backends only with `ipv6` (default
 *   on, as DC/OS ≥ 1.13).
 * - Weight 1 when running and healthy; 0 when the health check is pending or failing or the task
 *   is being killed: a drained backend gets no new connections, existing ones continue.
 * - A label that does not parse, or a VIP no backend address fits, is a problem; it never stops
 *   the task's other VIPs. So is a label @dcnet/mesos dropped with its port (`task.vipProblems`: a
 *   legacy `VIP_PORT<n>` with a bad scheme or index, a discovery port with an unusable protocol),
 *   and an IP VIP on an address `refuseIp` refuses (vip-guard.ts: loopback, a node's address…).
 */
import type { NormalTask } from "@dcnet/mesos";
import { familyOf, type Family } from "./ip";
import type { IpVipGuard } from "./vip-guard";
import { vipKeyId, type VipKey } from "./vip-key";
import { parseVipLabel } from "./vip-label";

export interface Backend {
  ip: string;
  port: number;
  /** 1 = takes new connections, 0 = drained. */
  weight: number;
  taskId: string;
  agentIp: string;
}

export interface AgentVip {
  key: VipKey;
  /** {@link vipKeyId} of `key`. */
  id: string;
  backends: Backend[];
}

/** A VIP label that produced no backend, with enough to find it (log, metric, API). */
export interface VipProblem {
  taskId: string;
  /** Task name (for Marathon, the app id without its leading `/`). */
  app: string;
  framework: string;
  /** The label key, e.g. `VIP_0`. */
  label: string;
  value: string;
  reason: string;
}

export interface AgentBackends {
  /** Sorted by id; backends sorted by address and port. */
  vips: AgentVip[];
  problems: VipProblem[];
}

export interface BackendOptions {
  /** Publish IPv6 backends (default true). */
  ipv6?: boolean;
  /** Why an IP VIP's address is refused (vip-guard.ts): the label is then a problem. */
  refuseIp?: IpVipGuard;
}

const weightOf = (t: NormalTask): number => (t.state === "running" && t.healthy ? 1 : 0);

function compareBackends(a: Backend, b: Backend): number {
  return a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : a.port - b.port || (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0);
}

export function agentBackends(tasks: readonly NormalTask[], agentIp: string, options: BackendOptions = {}): AgentBackends {
  const ipv6 = options.ipv6 ?? true;
  const vips = new Map<string, AgentVip>();
  const problems: VipProblem[] = [];

  for (const task of tasks) {
    if (task.state !== "running" && task.state !== "killing") continue;
    const weight = weightOf(task);
    for (const p of task.vipProblems)
      problems.push({ taskId: task.id, app: task.name, framework: task.framework, label: p.key, value: p.value, reason: p.reason });
    for (const port of task.ports) {
      for (const label of port.vips) {
        const problem = (reason: string): void => {
          problems.push({ taskId: task.id, app: task.name, framework: task.framework, label: label.key, value: label.value, reason });
        };
        const parsed = parseVipLabel(label);
        if (!parsed.ok) {
          problem(parsed.reason);
          continue;
        }
        const target = parsed.vip;
        const refused = target.kind === "ip" ? options.refuseIp?.(target.ip) : undefined;
        if (refused !== undefined) {
          problem(`${label.key} value ${JSON.stringify(label.value)} refused: ${refused}`);
          continue;
        }
        const wanted: Family[] = target.kind === "ip" ? [target.family] : [4, 6];
        const fits = (ip: string): boolean => {
          const f = familyOf(ip);
          return f !== undefined && wanted.includes(f) && (f === 4 || ipv6);
        };
        let candidates: { ip: string; port: number }[];
        if (port.hostPort !== undefined && port.hostPort > 0) candidates = [{ ip: agentIp, port: port.hostPort }];
        else if (port.port > 0) candidates = (task.taskIps.length > 0 ? task.taskIps : [agentIp]).map((ip) => ({ ip, port: port.port }));
        else {
          problem(`${label.key} is on a port without a number`);
          continue;
        }
        const usable = candidates.filter((c) => fits(c.ip));
        if (usable.length === 0) {
          const have = candidates.map((c) => c.ip).join(", ") || "none";
          problem(
            `${label.key}: no backend address fits the VIP (${target.kind === "ip" ? `IPv${target.family}` : "named"}; addresses: ${have})`,
          );
          continue;
        }
        const key: VipKey = {
          protocol: port.protocol,
          vip: target.kind === "ip" ? { kind: "ip", ip: target.ip } : { kind: "name", name: target.name, framework: task.framework },
          port: target.port,
        };
        const id = vipKeyId(key);
        let vip = vips.get(id);
        if (!vip) {
          vip = { key, id, backends: [] };
          vips.set(id, vip);
        }
        for (const c of usable) {
          const same = vip.backends.find((b) => b.ip === c.ip && b.port === c.port);
          if (same) same.weight = Math.max(same.weight, weight);
          else vip.backends.push({ ip: c.ip, port: c.port, weight, taskId: task.id, agentIp });
        }
      }
    }
  }
  const sorted = [...vips.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const v of sorted) v.backends.sort(compareBackends);
  return { vips: sorted, problems };
}
