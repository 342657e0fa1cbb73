/**
 * nftables scripts (applied atomically with `nft -f -`) for bridge-mode port
 * mappings. The agent owns one table, `ip dcnet_mesos_<short>`; it never
 * touches other tables (Docker's `ip nat` / `ip filter` included).
 *
 * hostPort → taskIP:containerPort lives in two maps (tcp, udp) used by a
 * `prerouting` chain (traffic from outside) and an `output` chain (the agent
 * host itself, `<agentIP>:<hostPort>` and `127.0.0.1:<hostPort>`).
 */

export interface NftNames {
  table: string;
  /** Host-side interface holding the gateway address (traffic to tasks leaves through it). */
  uplink: string;
  subnet: string;
}

export interface PortForward {
  hostPort: number;
  ip: string;
  containerPort: number;
  protocol: "tcp" | "udp";
}

/** Creates (or re-creates, dropping old elements) the agent's table. */
export function tableScript(n: NftNames): string {
  const dnat = (proto: string): string => `fib daddr type local dnat ip to ${proto} dport map @${proto}_ports`;
  return [
    `table ip ${n.table} {}`,
    `delete table ip ${n.table}`,
    `table ip ${n.table} {`,
    `  map tcp_ports { type inet_service : ipv4_addr . inet_service; }`,
    `  map udp_ports { type inet_service : ipv4_addr . inet_service; }`,
    `  chain prerouting {`,
    `    type nat hook prerouting priority dstnat; policy accept;`,
    `    ${dnat("tcp")}`,
    `    ${dnat("udp")}`,
    `  }`,
    `  chain output {`,
    `    type nat hook output priority -100; policy accept;`,
    `    ${dnat("tcp")}`,
    `    ${dnat("udp")}`,
    `  }`,
    `  chain postrouting {`,
    `    type nat hook postrouting priority srcnat; policy accept;`,
    `    ip saddr ${n.subnet} ip daddr != ${n.subnet} masquerade`,
    `    oifname "${n.uplink}" ip saddr 127.0.0.0/8 masquerade`,
    `    oifname "${n.uplink}" ct status dnat ip saddr ${n.subnet} masquerade`,
    `  }`,
    `}`,
    "",
  ].join("\n");
}

export function deleteTableScript(table: string): string {
  return `table ip ${table} {}\ndelete table ip ${table}\n`;
}

export function addForwardsScript(table: string, forwards: readonly PortForward[]): string {
  return forwards.map((f) => `add element ip ${table} ${f.protocol}_ports { ${f.hostPort} : ${f.ip} . ${f.containerPort} }\n`).join("");
}

export function deleteForwardsScript(table: string, forwards: readonly PortForward[]): string {
  return forwards.map((f) => `delete element ip ${table} ${f.protocol}_ports { ${f.hostPort} }\n`).join("");
}
