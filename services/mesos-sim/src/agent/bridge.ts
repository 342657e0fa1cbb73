import { createHash } from "node:crypto";
import * as fs from "node:fs";
import type { Logger } from "@dcnet/core";
import { available, run } from "./exec";
import { addForwardsScript, deleteForwardsScript, deleteTableScript, tableScript, type PortForward } from "./nft";
import { createNetns, deleteNetns, listNetns, probeNetns } from "./netns";
import { AddressPool, parseCidr } from "./subnet";

/**
 * Bridge networking for one agent (needs root, iproute2, nftables):
 *
 *   host netns                    switch netns `dcnet-<short>-sw`      task netns `dcnet-<short>-<task>`
 *   <name> (gateway .1/prefix) ── veth ── up0 ─┐
 *                                              <name> (Linux bridge) ── v<task> ── veth ── eth0 (.n/prefix, default via .1)
 *
 * The bridge sits in a namespace of its own so that bridged task-to-task
 * traffic does not pass the host's `forward` hook (with br_netfilter loaded,
 * a Docker host's `policy drop` there would drop it). The host reaches tasks
 * on-link through the uplink; DNAT and masquerade live in the agent's own
 * nftables table (nft.ts).
 */

export interface BridgeAttachment {
  netns: string;
  ip: string;
  forwards: PortForward[];
  release(): Promise<void>;
}

const hash = (s: string, n: number): string => createHash("sha1").update(s).digest("hex").slice(0, n);

export function bridgeNames(agentId: string, bridgeName: string) {
  const short = hash(agentId, 8);
  return {
    short,
    table: `dcnet_mesos_${short}`,
    switchNs: `dcnet-${short}-sw`,
    taskNsPrefix: `dcnet-${short}-`,
    taskNs: (taskId: string): string => `dcnet-${short}-${hash(taskId, 12)}`,
    taskVeth: (taskId: string): string => `v${hash(taskId, 12)}`,
    bridge: bridgeName,
    uplink: bridgeName,
  };
}

const writeSysctl = (file: string, value: string): boolean => {
  try {
    if (fs.readFileSync(file, "utf8").trim() !== value) fs.writeFileSync(file, value);
    return true;
  } catch {
    return false;
  }
};

/** Namespace deletion is asynchronous in the kernel: waits (≤ 2 s) for a link to vanish; returns it if it stays. */
async function waitUntilGone(link: string): Promise<string> {
  for (let i = 0; ; i++) {
    const shown = await run("ip", ["-o", "link", "show", link]).catch(() => "");
    if (!shown || i >= 40) return shown;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Why bridge mode cannot work here, or undefined when it can. */
export async function probeBridgeSupport(): Promise<string | undefined> {
  if (typeof process.getuid === "function" && process.getuid() !== 0) return "the agent does not run as root";
  if (!(await available("ip", ["-V"]))) return "iproute2 (`ip`) is not installed";
  if (!(await available("nft", ["--version"]))) return "nftables (`nft`) is not installed";
  return probeNetns();
}

export class BridgeNetwork {
  readonly names: ReturnType<typeof bridgeNames>;
  readonly pool: AddressPool;
  private readonly attachments = new Map<string, BridgeAttachment>();

  constructor(
    agentId: string,
    readonly opts: { name: string; subnet: string },
    private readonly log: Logger,
  ) {
    this.names = bridgeNames(agentId, opts.name);
    this.pool = new AddressPool(parseCidr(opts.subnet));
  }

  get subnet(): string {
    return this.pool.subnet.text;
  }

  /** Removes leftovers of an earlier run of this agent, then builds switch namespace, bridge, uplink and nft table. */
  async setup(): Promise<void> {
    const n = this.names;
    await this.removeLeftovers();
    const existing = await waitUntilGone(n.uplink);
    if (existing) throw new Error(`interface ${n.uplink} already exists (another agent on this host? set bridge.name)`);
    const routed = await run("ip", ["-4", "route", "show", this.subnet]).catch(() => "");
    if (routed.trim()) throw new Error(`subnet ${this.subnet} is already routed here (another agent? set bridge.subnet): ${routed.trim()}`);
    try {
      await createNetns(n.switchNs);
      await run("ip", ["-n", n.switchNs, "link", "add", n.bridge, "type", "bridge"]);
      await run("ip", ["-n", n.switchNs, "link", "set", n.bridge, "up"]);
      await run("ip", ["link", "add", n.uplink, "type", "veth", "peer", "name", "up0", "netns", n.switchNs]);
      await run("ip", ["-n", n.switchNs, "link", "set", "up0", "master", n.bridge, "up"]);
      await run("ip", ["addr", "add", `${this.pool.gateway}/${this.pool.subnet.prefix}`, "dev", n.uplink]);
      await run("ip", ["link", "set", n.uplink, "up"]);
      // 127.0.0.1:<hostPort> → task: DNATed packets leave with a loopback source through our uplink only.
      if (
        !writeSysctl(`/proc/sys/net/ipv4/conf/${n.uplink}/route_localnet`, "1") &&
        !sysctlIsOne("/proc/sys/net/ipv4/conf/all/route_localnet")
      )
        this.log.warn(
          "cannot set route_localnet (read-only /proc/sys in a container?): 127.0.0.1:<hostPort> will not reach bridge tasks; use the agent IP, or set the sysctl net.ipv4.conf.all.route_localnet=1",
        );
      if (!writeSysctl("/proc/sys/net/ipv4/ip_forward", "1"))
        this.log.warn("cannot set net.ipv4.ip_forward=1: tasks may not reach outside");
      await run("nft", ["-f", "-"], { input: tableScript({ table: n.table, uplink: n.uplink, subnet: this.subnet }) });
    } catch (err) {
      await this.teardown();
      throw err;
    }
    this.log.info({ bridge: n.bridge, gateway: this.pool.gateway, subnet: this.subnet, table: n.table }, "bridge network ready");
  }

  /** Gives a task its namespace, veth, address, default route and port forwards. */
  async attach(taskId: string, ports: { hostPort: number; containerPort: number; protocol: string }[]): Promise<BridgeAttachment> {
    const n = this.names;
    const netns = n.taskNs(taskId);
    const veth = n.taskVeth(taskId);
    const ip = this.pool.allocate();
    const forwards: PortForward[] = ports.flatMap((p) =>
      p.protocol
        .split(",")
        .filter((proto): proto is "tcp" | "udp" => proto === "tcp" || proto === "udp")
        .map((protocol) => ({ hostPort: p.hostPort, ip, containerPort: p.containerPort, protocol })),
    );
    let forwarded = false;
    const release = async (): Promise<void> => {
      this.attachments.delete(taskId);
      if (forwarded) await run("nft", ["-f", "-"], { input: deleteForwardsScript(n.table, forwards) }).catch(() => undefined);
      forwarded = false;
      await deleteNetns(netns).catch((err: unknown) => this.log.warn({ err, netns }, "cannot delete task netns"));
      await run("ip", ["-n", n.switchNs, "link", "del", veth]).catch(() => undefined);
      this.pool.release(ip);
    };
    try {
      await deleteNetns(netns);
      await createNetns(netns);
      await run("ip", ["-n", n.switchNs, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns]);
      await run("ip", ["-n", n.switchNs, "link", "set", veth, "master", n.bridge, "up"]);
      await run("ip", ["-n", netns, "addr", "add", `${ip}/${this.pool.subnet.prefix}`, "dev", "eth0"]);
      await run("ip", ["-n", netns, "link", "set", "eth0", "up"]);
      await run("ip", ["-n", netns, "route", "add", "default", "via", this.pool.gateway]);
      if (forwards.length) {
        await run("nft", ["-f", "-"], { input: addForwardsScript(n.table, forwards) });
        forwarded = true;
      }
    } catch (err) {
      await release();
      throw err;
    }
    const attachment: BridgeAttachment = { netns, ip, forwards, release };
    this.attachments.set(taskId, attachment);
    return attachment;
  }

  /** Releases every task attachment, the nft table and the switch namespace (bridge and uplink go with it). */
  async teardown(): Promise<void> {
    for (const a of [...this.attachments.values()]) await a.release();
    await this.removeLeftovers();
  }

  private async removeLeftovers(): Promise<void> {
    const n = this.names;
    await run("nft", ["-f", "-"], { input: deleteTableScript(n.table) }).catch(() => undefined);
    const spaces = await listNetns().catch((): string[] => []);
    for (const ns of spaces) if (ns.startsWith(n.taskNsPrefix) && ns !== n.switchNs) await deleteNetns(ns).catch(() => undefined);
    if (spaces.includes(n.switchNs)) await deleteNetns(n.switchNs).catch(() => undefined);
  }
}

function sysctlIsOne(file: string): boolean {
  try {
    return fs.readFileSync(file, "utf8").trim() === "1";
  } catch {
    return false;
  }
}
