/**
 * The listener addresses. DC/OS puts 198.51.100.1–3 on a `spartan` dummy interface; this kernel
 * has no dummy module, so the addresses go on `lo` as /32 (`manage_addresses`), which the kernel
 * treats the same way for local delivery, and which survives network managers that ignore `lo`.
 */
import { execFile } from "node:child_process";
import * as os from "node:os";
import { promisify } from "node:util";

const exec = promisify(execFile);

/** Addresses currently held by any interface of this network namespace. */
export function localAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) out.add(a.address);
  return out;
}

/** Every non-link-local address of the node (masters bind them all, §3.1). */
export function allAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(os.networkInterfaces()))
    for (const a of list ?? []) {
      if (a.family === "IPv4" && !a.address.startsWith("169.254.")) out.push(a.address);
      if (a.family === "IPv6" && !a.address.toLowerCase().startsWith("fe80")) out.push(a.address);
    }
  return out;
}

/** Adds each missing IPv4 as `<ip>/32` on `lo`; returns the ones added. Throws naming the address on failure. */
export async function ensureLoopbackAddresses(ips: readonly string[]): Promise<string[]> {
  const have = localAddresses();
  const added: string[] = [];
  for (const ip of ips) {
    if (have.has(ip) || ip.includes(":")) continue;
    try {
      await exec("ip", ["addr", "add", `${ip}/32`, "dev", "lo"]);
      added.push(ip);
    } catch (err) {
      const msg = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
      if (/File exists/.test(msg)) continue;
      throw new Error(`cannot add ${ip}/32 to lo (needs NET_ADMIN): ${msg}`);
    }
  }
  return added;
}
