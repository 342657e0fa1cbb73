import { run } from "./exec";

/** Network namespaces through iproute2 (`ip netns`), named under /run/netns. */

export const netnsPath = (name: string): string => `/var/run/netns/${name}`;

export async function listNetns(): Promise<string[]> {
  const out = await run("ip", ["netns", "list"]);
  return out
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0] ?? "")
    .filter(Boolean);
}

/** Creates the namespace with `lo` up. */
export async function createNetns(name: string): Promise<void> {
  await run("ip", ["netns", "add", name]);
  try {
    await run("ip", ["-n", name, "link", "set", "lo", "up"]);
  } catch (err) {
    await deleteNetns(name);
    throw err;
  }
}

/** SIGKILLs whatever still runs inside, then deletes the namespace (and so its interfaces). Idempotent. */
export async function deleteNetns(name: string): Promise<void> {
  try {
    const pids = await run("ip", ["netns", "pids", name]);
    for (const pid of pids.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        /* gone */
      }
    }
  } catch {
    return; // no such namespace
  }
  try {
    await run("ip", ["netns", "del", name]);
  } catch (err) {
    if (!/No such file|not exist/i.test((err as Error).message)) throw err;
  }
}

/** Whether `ip netns add` works here (creates and deletes a probe namespace); the reason when not. */
export async function probeNetns(): Promise<string | undefined> {
  const probe = `dcnet-probe-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    await run("ip", ["netns", "add", probe]);
  } catch (err) {
    return `cannot create a network namespace: ${(err as Error).message}`;
  }
  await deleteNetns(probe).catch(() => undefined);
  return undefined;
}
