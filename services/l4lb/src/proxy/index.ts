/**
 * The userspace data plane: the same VIP table as the nftables driver, served by TCP and UDP
 * listeners bound to `<vip>:<port>` that proxy to the backends (no NET_ADMIN needed). For the
 * embedded `npm start` and as a measured alternative to nft mode. See the README, "Userspace proxy".
 *
 * `apply` diffs the table against the listeners it has: new VIPs get a listener, removed ones lose
 * theirs (their open connections and sessions continue on their own: drain, like conntrack),
 * and a VIP whose backends or weights change keeps its listener — only its slot list is replaced.
 * A VIP that cannot be bound (EADDRNOTAVAIL: the host does not hold the address; EADDRINUSE) is
 * logged once and retried by `reconcile`; `stats().unbound` lists them.
 */
import type * as dgram from "node:dgram";
import type * as net from "node:net";
import { Code, DcnetError, type Logger } from "@dcnet/core";
import { compile, vipEntryKey, type DataplaneVip, type Endpoint } from "../dataplane";
import type { DataplaneDriver } from "../driver";
import { formatIp, parseIp } from "../ip";
import type { Protocol } from "../vip-key";
import { addLoAddress, delLoAddress, hasLocalAddress } from "./local-address";
import { TcpProxy, type Target, type TcpCopy, type TcpStats } from "./tcp";
import { UdpProxy, type UdpListener, type UdpStats } from "./udp";
import { udpBackendKey, udpBackends } from "../udp-flows";

const NONE: ReadonlySet<string> = new Set();

export type { TcpStats, UdpStats };

export interface VipAddress {
  protocol: Protocol;
  /** Canonical address. */
  ip: string;
  port: number;
}

export interface UserspaceDriverOptions {
  logger: Logger;
  /** The address to bind for a VIP; default the VIP address itself. */
  bindAddress?: (vip: VipAddress) => string;
  /** Put missing VIP addresses on lo (`ip addr add`, needs NET_ADMIN); default false. */
  addLocalAddress?: boolean;
  /** A UDP session closes after this long without a packet either way; default 30 s. */
  udpIdleMs?: number;
  /** Backend connect timeout; default 3 s. */
  connectTimeoutMs?: number;
  /** UDP sessions at most (all VIPs); default 10,000. */
  maxUdpSessions?: number;
  /**
   * How TCP bytes are copied: `raw` below Node's streams (raw-copy.ts; the default where this Node
   * offers it) with a read buffer per socket, `raw-alloc` the same with a buffer per read, or
   * `stream` (data events and writes).
   */
  tcpCopy?: TcpCopy;
}

export interface UserspaceStats {
  tcp: TcpStats;
  udp: UdpStats;
  /** VIP listeners there are (bound or not). */
  listeners: number;
  /** VIPs (`<proto> <ip> <port>`) whose address could not be bound. */
  unbound: string[];
}

export interface UserspaceDriver extends DataplaneDriver {
  readonly mode: "userspace";
  stats(): UserspaceStats;
  /** The socket serving a VIP now (tests: a weight change must keep the same object). */
  listenerOf(vip: VipAddress): net.Server | dgram.Socket | undefined;
}

interface Listener {
  readonly key: string;
  readonly vip: VipAddress;
  readonly host: string;
  readonly target: Target;
  tcp: net.Server | undefined;
  udp: UdpListener | undefined;
  /** The last bind error was logged (logged once until a bind succeeds). */
  warned: boolean;
}

const alive = (l: Listener): boolean => (l.vip.protocol === "tcp" ? l.tcp?.listening === true : l.udp?.bound === true);

export function createUserspaceDriver(opts: UserspaceDriverOptions): UserspaceDriver {
  const logger = opts.logger;
  const tcp = new TcpProxy(logger, opts.connectTimeoutMs ?? 3000, opts.tcpCopy);
  const udp = new UdpProxy(logger, opts.udpIdleMs ?? 30_000, opts.maxUdpSessions ?? 10_000);
  const listeners = new Map<string, Listener>();
  /** Addresses we put on lo (only these are ever removed). */
  const added = new Set<string>();
  let closed = false;
  let queue: Promise<unknown> = Promise.resolve();

  /** apply, reconcile and close run one at a time, in call order. */
  function serial<T>(op: () => Promise<T>): Promise<T> {
    const run = queue.then(() => {
      if (closed) throw new DcnetError(Code.FAILED_PRECONDITION, "the userspace data plane is closed");
      return op();
    });
    queue = run.catch(() => undefined);
    return run;
  }

  async function open(l: Listener): Promise<void> {
    if (l.vip.protocol === "tcp") l.tcp = await tcp.listen(l.host, l.vip.port, l.target);
    else l.udp = await udp.listen(l.host, l.vip.port, l.target);
  }

  /** Binds a listener's socket; false (logged once) when it cannot. */
  async function bind(l: Listener): Promise<boolean> {
    try {
      try {
        await open(l);
      } catch (err) {
        if (!(opts.addLocalAddress && (err as NodeJS.ErrnoException).code === "EADDRNOTAVAIL")) throw err;
        if (await addLoAddress(l.host)) {
          added.add(l.host);
          logger.info({ address: l.host }, "added VIP address to lo");
        }
        await open(l);
      }
      if (l.warned) logger.info({ vip: l.key, bind: l.host }, "VIP listener bound");
      l.warned = false;
      return true;
    } catch (err) {
      if (!l.warned) {
        const e = err as NodeJS.ErrnoException;
        const hint =
          e.code === "EADDRNOTAVAIL" ? "the host does not hold this address (use VIPs in 127.0.0.0/8 or addLocalAddress)" : undefined;
        logger.warn({ vip: l.key, bind: l.host, err: e.code ?? e.message, hint }, "cannot bind VIP listener");
        l.warned = true;
      }
      return false;
    }
  }

  async function release(l: Listener): Promise<void> {
    l.tcp?.close(); // stops accepting; open connections continue
    l.udp?.close();
    l.tcp = undefined;
    l.udp = undefined;
    if (added.has(l.host) && ![...listeners.values()].some((o) => o.host === l.host)) {
      added.delete(l.host);
      await delLoAddress(l.host).catch((err: unknown) =>
        logger.warn({ address: l.host, err: String(err) }, "cannot remove VIP address from lo"),
      );
    }
  }

  async function apply(vips: readonly DataplaneVip[]): Promise<void> {
    const state = compile(vips); // INVALID_ARGUMENT before anything changes
    const want = new Map<string, { vip: VipAddress; slots: Endpoint[] }>();
    for (const fs of [state.ipv4, state.ipv6]) {
      for (const [key, v] of fs?.vips ?? []) want.set(key, { vip: { protocol: v.protocol, ip: v.ip, port: v.port }, slots: v.slots });
    }
    for (const [key, l] of [...listeners]) {
      if (want.has(key)) continue;
      listeners.delete(key);
      await release(l);
    }
    const binds: Promise<boolean>[] = [];
    const udpSets = udpBackends(vips);
    for (const [key, w] of want) {
      const l = listeners.get(key);
      if (l !== undefined) {
        l.target.slots = w.slots;
        // A UDP client that keeps sending would stay on a removed backend: its session ends.
        l.udp?.dropGone(udpSets.get(udpBackendKey(w.vip.ip, w.vip.port)) ?? NONE);
        if (!alive(l)) binds.push(bind(l));
        continue;
      }
      const host = opts.bindAddress?.(w.vip) ?? w.vip.ip;
      const fresh: Listener = {
        key,
        vip: w.vip,
        host,
        target: { name: key, slots: w.slots },
        tcp: undefined,
        udp: undefined,
        warned: false,
      };
      listeners.set(key, fresh);
      binds.push(bind(fresh));
    }
    await Promise.all(binds);
  }

  async function reconcile(): Promise<number> {
    let repairs = 0;
    for (const address of added) {
      if (hasLocalAddress(address)) continue;
      try {
        await addLoAddress(address);
        repairs++;
        logger.warn({ address }, "VIP address was missing from lo: added again");
      } catch (err) {
        logger.warn({ address, err: String(err) }, "cannot add VIP address to lo");
      }
    }
    for (const l of listeners.values()) {
      if (alive(l)) continue;
      if (l.tcp !== undefined || l.udp !== undefined) logger.warn({ vip: l.key }, "VIP listener died: binding again");
      l.tcp?.close();
      l.udp?.close();
      l.tcp = undefined;
      l.udp = undefined;
      if (await bind(l)) repairs++;
    }
    return repairs;
  }

  async function close(): Promise<void> {
    closed = true;
    for (const l of listeners.values()) {
      l.tcp?.close();
      l.tcp = undefined;
    }
    listeners.clear();
    udp.close();
    tcp.close();
    for (const address of added) {
      await delLoAddress(address).catch((err: unknown) => logger.warn({ address, err: String(err) }, "cannot remove VIP address from lo"));
    }
    added.clear();
  }

  return {
    mode: "userspace",
    apply: (vips) => serial(() => apply(vips)),
    reconcile: () => serial(reconcile),
    close: () => {
      const run = queue.then(async () => {
        if (!closed) await close();
      });
      queue = run.catch(() => undefined);
      return run;
    },
    stats: () => ({
      tcp: { ...tcp.stats },
      udp: { ...udp.stats },
      listeners: listeners.size,
      unbound: [...listeners.values()].filter((l) => !alive(l)).map((l) => l.key),
    }),
    listenerOf: (v) => {
      const p = parseIp(v.ip);
      const l = listeners.get(vipEntryKey({ ...v, ip: p?.family === 6 ? formatIp(6, p.value) : v.ip }));
      return l?.tcp ?? l?.udp?.socket;
    },
  };
}
