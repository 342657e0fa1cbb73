import * as os from "node:os";

/**
 * Interfaces that never carry a node's own address: the bridges and veths this stack (task
 * networks `dcnet-*`, VXLAN `vtep*`), Docker (`docker0`, `br-*`, `veth*`) and libvirt create.
 */
const VIRTUAL = /^(dcnet-|vtep|docker\d|br-|veth|virbr|cni|flannel|cali|kube-)/;

/**
 * The node's default address: the first non-loopback IPv4 of an interface that is not one of
 * the virtual ones above (127.0.0.1 when there is none). An agent that created its task bridge
 * before another service asked would otherwise answer with the bridge's address.
 */
export function defaultIPv4(): string {
  return pickIPv4(os.networkInterfaces());
}

/** {@link defaultIPv4} over a given interface list (`os.networkInterfaces()` shape). */
export function pickIPv4(interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]>): string {
  const ifaces = Object.entries(interfaces);
  for (const pass of [false, true]) {
    for (const [name, addrs] of ifaces) {
      if (!pass && VIRTUAL.test(name)) continue;
      for (const a of addrs ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
    }
  }
  return "127.0.0.1";
}
