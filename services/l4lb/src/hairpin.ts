/**
 * Local port-mapping rewrite (spec §4.3, "hairpin"). A backend published as
 * `<agentIp>:<hostPort>` is reached on other nodes through the agent's port-mapping DNAT. On the
 * agent itself that DNAT never runs for VIP traffic — the VIP's DNAT comes first and a connection
 * is NAT-ed once per hook — so the node hosting the task must use the task's own address
 * `<taskIp>:<containerPort>` instead. Docker tasks keep the host-port form (DCOS-45115: Docker's
 * own proxy answers on the host port, which lets a Docker container reach its own VIP).
 */
import type { NormalTask } from "@dcnet/mesos";
import type { Endpoint } from "./dataplane";
import { familyOf } from "./ip";
import type { Protocol } from "./vip-key";

const keyOf = (protocol: Protocol, ip: string, port: number): string => `${protocol} ${ip} ${port}`;

/** `<proto> <agentIp> <hostPort>` → the task address, for this agent's running/killing non-Docker tasks. */
export function localRewrites(tasks: readonly NormalTask[], agentIp: string): Map<string, Endpoint> {
  const out = new Map<string, Endpoint>();
  const family = familyOf(agentIp);
  for (const t of tasks) {
    if ((t.state !== "running" && t.state !== "killing") || t.runtime === "DOCKER") continue;
    const ip = t.taskIps.find((a) => a !== agentIp && familyOf(a) === family);
    if (ip === undefined) continue;
    for (const p of t.ports) {
      if (p.hostPort !== undefined && p.hostPort > 0 && p.port > 0) out.set(keyOf(p.protocol, agentIp, p.hostPort), { ip, port: p.port });
    }
  }
  return out;
}

/** The backends with every local host-port backend replaced by its task address. */
export function rewriteLocal<B extends Endpoint>(protocol: Protocol, backends: readonly B[], rewrites: ReadonlyMap<string, Endpoint>): B[] {
  if (rewrites.size === 0) return [...backends];
  return backends.map((b) => {
    const to = rewrites.get(keyOf(protocol, b.ip, b.port));
    return to ? { ...b, ip: to.ip, port: to.port } : b;
  });
}
