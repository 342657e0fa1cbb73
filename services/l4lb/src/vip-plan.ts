/**
 * From one VIP of the cluster table to what this node serves for it (pure):
 *
 * - its addresses: the IP of an IP VIP; for a named VIP the address claimed for
 *   `vipDnsName(name, framework)` in each family it has backends in (IPv6 only with `ipv6`);
 * - its backends as this node uses them: on unreachable agents dropped unless none of that address
 *   family is left (fail-open per family, reachability.ts), and a backend this agent hosts behind a host port replaced by the
 *   task's own address (hairpin.ts);
 * - the data plane entries (one per address) and the API view.
 */
import { familyOf, type Family } from "./ip";
import type { Backend } from "./backends";
import type { DataplaneVip, Endpoint } from "./dataplane";
import { rewriteLocal } from "./hairpin";
import { filterReachable } from "./reachability";
import { vipDnsName } from "./vip-key";
import type { TableVip } from "./vip-table";

export const L4LB_DOMAIN = "l4lb.thisdcos.directory";

export interface BackendView extends Backend {
  /** False when the bus marks the agent unreachable. */
  reachable: boolean;
  /** Used by this node's data plane (reachable, or all of its family are unreachable: fail-open). */
  inUse: boolean;
}

export interface VipView {
  id: string;
  protocol: "tcp" | "udp";
  port: number;
  kind: "ip" | "name";
  /** As /v1/vips shows it: `<ip>:<port>`, `[<v6>]:<port>` or `<dnsName>:<port>`. */
  vip: string;
  /** Named VIPs. */
  name?: string;
  framework?: string;
  /** `<domain_frag(name.framework)>.l4lb.thisdcos.directory` (named VIPs). */
  dnsName?: string;
  /** The addresses served (named VIPs: those claimed so far, IPv4 first). */
  addresses: string[];
  backends: BackendView[];
  failedOpen: boolean;
  /** Why part of it is not served (a name that sanitises to nothing, IPv6 off, no address yet). */
  notes: string[];
}

export interface PlannedVip {
  view: VipView;
  dataplane: DataplaneVip[];
  /** Named VIPs: the claim name and the families it needs an address in. */
  claim?: { name: string; families: Family[] };
}

export interface PlanInputs {
  address(name: string, family: Family): string | undefined;
  unreachable: ReadonlySet<string>;
  /** This agent's host-port → task-address rewrites (hairpin.ts `localRewrites`); empty off agents. */
  rewrites: ReadonlyMap<string, Endpoint>;
  ipv6: boolean;
  /** Why an IP VIP's address is not served (vip-guard.ts; agents refuse such labels, this catches older agents' documents). */
  refuseIp?: (ip: string) => string | undefined;
}

const hostPort = (ip: string, port: number): string => (ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`);

export function planVip(tv: TableVip, inputs: PlanInputs): PlannedVip {
  const { protocol, port, vip } = tv.key;
  const notes: string[] = [];
  // Per address family: each family's entry is its own VIP in the data plane, so a named VIP whose
  // IPv4 backends are all unreachable fails open for IPv4 even when IPv6 ones are reachable.
  const kept: Backend[] = [];
  let failedOpen = false;
  for (const f of [4, 6] as const) {
    const r = filterReachable(
      tv.backends.filter((b) => familyOf(b.ip) === f),
      inputs.unreachable,
    );
    kept.push(...r.backends);
    if (r.failedOpen) {
      failedOpen = true;
      notes.push(`every IPv${f} backend is on an unreachable agent: all kept (fail-open)`);
    }
  }
  const used = new Set(kept);
  const backends: BackendView[] = tv.backends.map((b) => ({ ...b, reachable: !inputs.unreachable.has(b.agentIp), inUse: used.has(b) }));
  const serving = rewriteLocal(protocol, kept, inputs.rewrites).map((b) => ({ ip: b.ip, port: b.port, weight: b.weight }));
  const ofFamily = (f: Family) => serving.filter((b) => familyOf(b.ip) === f);
  const base = { id: tv.id, protocol, port, backends, failedOpen, notes };

  if (vip.kind === "ip") {
    const family = familyOf(vip.ip)!;
    const view: VipView = { ...base, kind: "ip", vip: hostPort(vip.ip, port), addresses: [vip.ip] };
    if (family === 6 && !inputs.ipv6) {
      notes.push("IPv6 is off (ipv6: false): not served");
      return { view, dataplane: [] };
    }
    const refused = inputs.refuseIp?.(vip.ip);
    if (refused !== undefined) {
      notes.push(`not served: ${refused}`);
      return { view, dataplane: [] };
    }
    return { view, dataplane: [{ protocol, ip: vip.ip, port, backends: ofFamily(family) }] };
  }

  const name = vipDnsName(vip);
  const dnsName = name === "" ? "" : `${name}.${L4LB_DOMAIN}`;
  const view: VipView = {
    ...base,
    kind: "name",
    vip: `${dnsName || `${vip.name}.${vip.framework}`}:${port}`,
    name: vip.name,
    framework: vip.framework,
    dnsName,
    addresses: [],
  };
  if (name === "" || name.split(".").some((p) => p === "")) {
    notes.push(`the name "${vip.name}" in "${vip.framework}" sanitises to "${name}", which is not a DNS name: no address`);
    return { view, dataplane: [] };
  }
  const families: Family[] = [];
  for (const f of [4, 6] as const) {
    if (f === 6 && !inputs.ipv6) continue;
    if (tv.backends.some((b) => familyOf(b.ip) === f)) families.push(f);
  }
  const dataplane: DataplaneVip[] = [];
  for (const f of families) {
    const ip = inputs.address(name, f);
    if (ip === undefined) {
      notes.push(`no IPv${f} address claimed yet`);
      continue;
    }
    view.addresses.push(ip);
    dataplane.push({ protocol, ip, port, backends: ofFamily(f) });
  }
  return { view, dataplane, claim: { name, families } };
}
