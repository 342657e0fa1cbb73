import * as os from "node:os";

/** The first non-loopback IPv4 of this host (127.0.0.1 when there is none): a node's default address. */
export function defaultIPv4(): string {
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return "127.0.0.1";
}
