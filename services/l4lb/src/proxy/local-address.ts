/**
 * VIP addresses on `lo` for the userspace proxy (option `addLocalAddress`, needs NET_ADMIN):
 * a socket can only bind an address the host holds. 127.0.0.0/8 is always local on Linux, so the
 * embedded mode (VIPs from 127.11.0.0/16) never needs this.
 */
import { execFile } from "node:child_process";
import { isIPv6 } from "node:net";
import * as os from "node:os";

function ip(args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("ip", args, { timeout: 10_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`ip ${args.join(" ")}: ${stderr.trim() || err.message}`));
      else resolve();
    });
  });
}

/** Adds `address` (/32 or /128) to lo; resolves false when it was already there. */
export async function addLoAddress(address: string): Promise<boolean> {
  const args = isIPv6(address)
    ? ["-6", "addr", "add", `${address}/128`, "dev", "lo", "nodad"]
    : ["addr", "add", `${address}/32`, "dev", "lo"];
  try {
    await ip(args);
    return true;
  } catch (err) {
    if (err instanceof Error && /File exists/i.test(err.message)) return false;
    throw err;
  }
}

export async function delLoAddress(address: string): Promise<void> {
  await ip(isIPv6(address) ? ["-6", "addr", "del", `${address}/128`, "dev", "lo"] : ["addr", "del", `${address}/32`, "dev", "lo"]);
}

/** Whether an interface of this host holds `address` (as it is written canonically). */
export function hasLocalAddress(address: string): boolean {
  for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) if (a.address === address) return true;
  return false;
}
