/**
 * UDP flows pinned to a backend that has left its VIP. A UDP "connection" through the nft table is
 * a conntrack entry whose NAT binding was chosen by its first datagram; the kernel keeps it while
 * datagrams keep coming (30 s unreplied, 120 s once replied to, restarted by every datagram). A
 * client that sends from one socket more often than that — a resolver, a metrics agent, a game
 * server's clients — would stay on a backend that was removed (scaled down, killed, on a dead
 * agent) for as long as it sends. kube-proxy deletes those entries for the same reason.
 *
 * After each table the driver puts in the kernel, this compares every UDP VIP's backends with the
 * previous table and deletes (`conntrack -D`) the flows of the VIP whose reply comes from a backend
 * no longer listed: the next datagram is balanced again. Drained backends (weight 0) are still
 * listed, so their flows stay, as TCP connections do. TCP needs nothing of this: its connections
 * to a removed backend end (RST or timeout) and the application reconnects.
 *
 * With the socket LB, connected UDP sockets it sent to such a backend have no conntrack entry:
 * they are aborted instead (`abortSockets`, sock-lb-udp.ts).
 *
 * Deletions run one after another in the background (they never hold up the next table); without
 * a `conntrack` binary the first attempt warns once and none are tried again.
 */
import { counter, type Logger, type Registry } from "@dcnet/core";
import type { DataplaneVip } from "./dataplane";
import { runCommand } from "./command";
import { canonicalIp, familyOf } from "./ip";

export interface UdpFlowsOptions {
  logger: Logger;
  /** Run inside this network namespace (`ip netns exec <netns> conntrack …`). */
  netns?: string;
  /** The `conntrack` binary (default `conntrack`, Debian's conntrack package). */
  conntrack?: string;
  /** Metrics: `l4lb_udp_flows_deleted_total`, `l4lb_udp_flow_deletes_failed_total`, `l4lb_udp_sockets_aborted_total`. */
  registry?: Registry;
  /**
   * With the socket LB: aborts the connected UDP sockets it sent from the flow's VIP to its backend
   * (sock-lb-udp.ts), resolving how many; they have no conntrack entry to delete.
   */
  abortSockets?: (f: StaleFlow) => Promise<number>;
}

export interface UdpFlows {
  /** The table now in the kernel: queues the deletions for UDP backends that left their VIP since the last call. */
  update(vips: readonly DataplaneVip[]): void;
  /** Resolves when every deletion queued so far has run. */
  idle(): Promise<void>;
}

/** One flow filter: the VIP the client sent to and the backend that answers. */
export interface StaleFlow {
  vip: string;
  port: number;
  backend: string;
  backendPort: number;
}

type Table = Map<string, Set<string>>;

interface Known {
  objs: readonly DataplaneVip[];
  backends: Set<string>;
}

const sameObjects = (a: readonly DataplaneVip[], b: readonly DataplaneVip[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** `address|port`: the keys of {@link udpBackends} (a VIP) and of its sets (a backend). */
export const udpBackendKey = (ip: string, port: number): string => `${ip}|${port}`;
const vipKey = udpBackendKey;

/** UDP VIP (canonical address|port) → its backends (canonical address|port), whatever their weight. */
export function udpBackends(vips: readonly DataplaneVip[]): Table {
  const out: Table = new Map();
  for (const v of vips) {
    if (v.protocol !== "udp") continue;
    const ip = canonicalIp(v.ip);
    if (ip === undefined) continue;
    const key = vipKey(ip, v.port);
    let set = out.get(key);
    if (!set) out.set(key, (set = new Set()));
    for (const b of v.backends) set.add(vipKey(canonicalIp(b.ip) ?? b.ip, b.port));
  }
  return out;
}

/** The (VIP, backend) pairs of `before` that `after` no longer has. */
export function staleFlows(before: Table, after: Table): StaleFlow[] {
  const out: StaleFlow[] = [];
  for (const [vk, backends] of before) leftOf(vk, backends, after.get(vk), out);
  return out;
}

/** Appends to `out` the flows of VIP `vk` whose backend is in `before` but not in `after`. */
function leftOf(vk: string, before: ReadonlySet<string>, after: ReadonlySet<string> | undefined, out: StaleFlow[]): void {
  const [vip, port] = vk.split("|") as [string, string];
  for (const bk of before) {
    if (after?.has(bk)) continue;
    const [backend, backendPort] = bk.split("|") as [string, string];
    out.push({ vip, port: Number(port), backend, backendPort: Number(backendPort) });
  }
}

/** `conntrack -D` arguments deleting the UDP flows to `vip:port` answered by `backend:backendPort`. */
export function conntrackArgs(f: StaleFlow): string[] {
  return [
    "-D",
    ...(familyOf(f.vip) === 6 ? ["-f", "ipv6"] : []),
    "-p",
    "udp",
    "--orig-dst",
    f.vip,
    "--orig-port-dst",
    String(f.port),
    "--reply-src",
    f.backend,
    "--reply-port-src",
    String(f.backendPort),
  ];
}

export function createUdpFlows(opts: UdpFlowsOptions): UdpFlows {
  const log = opts.logger;
  const bin = opts.conntrack ?? "conntrack";
  const reg = opts.registry;
  const deleted =
    reg && counter(reg, "l4lb_udp_flows_deleted_total", "UDP conntrack entries deleted because their backend left the VIP", []);
  const failed =
    reg && counter(reg, "l4lb_udp_flow_deletes_failed_total", "conntrack deletions of a removed UDP backend's flows that failed", []);
  const aborted =
    reg &&
    counter(
      reg,
      "l4lb_udp_sockets_aborted_total",
      "Connected UDP sockets the socket LB had sent to a backend that left the VIP, aborted",
      [],
    );
  /** UDP VIP key → the VIP objects of the last table at that key, and their backends. */
  let known = new Map<string, Known>();
  let queue: Promise<void> = Promise.resolve();
  let unavailable = false;

  const abortSockets = async (f: StaleFlow): Promise<void> => {
    if (!opts.abortSockets) return;
    try {
      const n = await opts.abortSockets(f);
      if (n > 0) {
        aborted?.inc(n);
        log.info(
          { vip: `${f.vip}:${f.port}`, backend: `${f.backend}:${f.backendPort}`, sockets: n },
          "aborted the connected UDP sockets of a removed backend",
        );
      }
    } catch (err) {
      log.warn(
        { vip: `${f.vip}:${f.port}`, backend: `${f.backend}:${f.backendPort}`, err: (err as Error).message },
        "aborting connected UDP sockets failed",
      );
    }
  };

  const flush = async (f: StaleFlow): Promise<void> => {
    await abortSockets(f);
    if (unavailable) return;
    const r = await runCommand(bin, conntrackArgs(f), { netns: opts.netns });
    // conntrack prints "N flow entries have been deleted." and exits 1 when N is 0.
    const n = /(\d+) flow entr(?:y|ies) ha(?:s|ve) been deleted/.exec(r.stderr);
    if (n) {
      const count = Number(n[1]);
      if (count > 0) {
        deleted?.inc(count);
        log.info(
          { vip: `${f.vip}:${f.port}`, backend: `${f.backend}:${f.backendPort}`, flows: count },
          "deleted the UDP flows of a removed backend",
        );
      }
      return;
    }
    failed?.inc();
    if (r.error?.code === "ENOENT") {
      unavailable = true;
      log.warn(
        `${bin}: not found: UDP flows to removed backends stay until idle (install conntrack to move them at once; kube-proxy needs it too)`,
      );
      return;
    }
    log.warn({ vip: `${f.vip}:${f.port}`, backend: `${f.backend}:${f.backendPort}`, err: r.stderr.trim() }, "deleting UDP flows failed");
  };

  return {
    update(vips) {
      // Per apply: one pass over the list, and backend sets built only for the UDP VIPs whose
      // objects changed (the driver hands unchanged VIPs over as the same objects).
      const objs = new Map<string, DataplaneVip[]>();
      for (const v of vips) {
        if (v.protocol !== "udp") continue;
        const key = vipKey(canonicalIp(v.ip) ?? v.ip, v.port);
        const list = objs.get(key);
        if (list) list.push(v);
        else objs.set(key, [v]);
      }
      const after = new Map<string, Known>();
      const stale: StaleFlow[] = [];
      for (const [key, list] of objs) {
        const old = known.get(key);
        if (old && sameObjects(old.objs, list)) {
          after.set(key, old);
          continue;
        }
        const backends = udpBackends(list).get(key) ?? new Set<string>();
        after.set(key, { objs: list, backends });
        if (old) leftOf(key, old.backends, backends, stale);
      }
      for (const [key, old] of known) if (!after.has(key)) leftOf(key, old.backends, undefined, stale);
      known = after;
      for (const f of stale) queue = queue.then(() => flush(f));
    },
    idle: () => queue,
  };
}
