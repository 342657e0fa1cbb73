/**
 * The nftables data plane driver (spec §4.3 without IPVS) on top of nft-render / nft-apply:
 *
 * - `apply(vips)`: compiles the table — incrementally: the compiled table is kept and patched; a
 *   VIP object seen before costs one Map lookup, a new one (unless its backends equal those of
 *   the object it replaces) is compiled, and only the entries that changed are rendered — and
 *   applies them as ONE nft transaction, through a long-lived `nft -i` session (nft-apply.ts). If
 *   that fails (the kernel is not what we think), the whole table is rebuilt with `renderFull` in
 *   one transaction (established connections keep their conntrack NAT). The first apply reads the
 *   kernel back; when there is no table of ours yet it loads in stages (`renderStaged`: the tables,
 *   then transactions of ~5,000 elements through two nft sessions at once, each VIP going live
 *   whole). Local routes for VIP addresses (routes.ts, one long-lived `ip -batch` process): stale
 *   ones removed before the transaction, new ones added after, as upstream orders it (alongside a
 *   cold load); untouched when no VIP address came or went. Routes that fail do not hold the table
 *   back: nft gets it, then apply rejects naming the routes (the next apply tries them again).
 * - `reconcile()`: reads the table back (`nft -j list table`) and the routes, repairs any drift
 *   (delta when the read fits the model, full rebuild otherwise; chains whose rules were flushed
 *   or edited get their rules back in the delta's transaction, nft-drift.ts); resolves to the
 *   repairs made (VIP entries and chains that differed + routes added or removed). Run every
 *   `reconcileIntervalMs` (default 30 s; 0 = only when called).
 * - Creation checks that nft works here (NET_ADMIN) and fails with FAILED_PRECONDITION otherwise;
 *   it checks `net.ipv4.ip_forward` (and `net.ipv6.conf.all.forwarding`), which connections from
 *   bridge-mode task namespaces need: IPv4 forwarding is turned on when it is off (a clear warning
 *   when /proc/sys is read-only), IPv6 forwarding only reported (turning it on would make the
 *   kernel ignore router advertisements). Connections from the node itself work without them.
 *
 * Calls are serialised; DataplaneVip objects passed in must not be mutated afterwards (the compile
 * cache is keyed by them).
 */
import * as os from "node:os";
import { Code, DcnetError, counter, gauge, histogram, type Logger, type Registry } from "@dcnet/core";
import {
  dispatchChain,
  familyKey,
  sameSlot,
  slotsOf,
  vipEntryKey,
  type DataplaneBackend,
  type DataplaneState,
  type DataplaneVip,
  type FamilyState,
  type VipEntry,
} from "./dataplane";
import type { VipRange } from "./allocate";
import type { DataplaneDriver } from "./driver";
import { canonicalIp, familyOf, type Family } from "./ip";
import { createNft, type Nft, type TableRead } from "./nft-apply";
import { chainDrift, expectedFromProbe, type ExpectedChains } from "./nft-drift";
import {
  DEFAULT_TABLE,
  countSlots,
  renderChainRepair,
  renderDelta,
  renderFull,
  renderRuleProbe,
  renderStaged,
  type NftOptions,
} from "./nft-render";
import { routeCover } from "./route-cover";
import { createLocalRoutes, RoutesError, type LocalRoutes, type RouteSource } from "./routes";
import { startSockLb, type SockLb } from "./sock-lb";
import { abortConnectedUdp } from "./sock-lb-udp";
import { createUdpFlows, type StaleFlow } from "./udp-flows";
import { failureText, runCommand } from "./command";

export interface NftDriverOptions extends NftOptions {
  logger: Logger;
  /** Run inside this network namespace (tests). */
  netns?: string;
  /** The nft binary (default `nft`). */
  nft?: string;
  /** Full reconcile period (default 30000 ms; 0 = only when `reconcile()` is called). */
  reconcileIntervalMs?: number;
  /** Manage local routes for VIP addresses (default true). */
  routes?: boolean;
  /**
   * Ranges whose VIP addresses share the local routes of the range's CIDR prefixes instead of one
   * route each (route-cover.ts): the named-VIP ranges, reserved for VIPs. Default none.
   */
  routeCover?: readonly VipRange[];
  /** Routing protocol number of our routes (default 211). */
  routeProtocol?: number;
  /** The routes' `src`: the source address of the node's own VIP connections (routes.ts; default "auto"). */
  routeSource?: RouteSource;
  /**
   * Also balance the connects of this cgroup's sockets at connect time (sock-lb.ts: a BPF
   * program; needs clang and bpftool). Off by default. If it cannot start, the driver warns and
   * runs without it (the nft table serves those connections as it does without the option).
   */
  socketLb?: { cgroup: string; pin?: string };
  /**
   * The `conntrack` binary that deletes the UDP flows of backends removed from a VIP, so that their
   * clients are balanced again (udp-flows.ts; default `conntrack`); false: leave them to time out.
   */
  conntrack?: string | false;
  /** The `ip` binary for routes (default `ip`). */
  ip?: string;
  /** Check (and try to set) the forwarding sysctls (default true). */
  checkSysctls?: boolean;
  /** Apply changes through a long-lived `nft -i` session (default true; false: one `nft -f -` per change; nft-apply.ts). */
  session?: boolean;
  /** Metrics: `l4lb_nft_duration_seconds`, `l4lb_routes_duration_seconds`, `l4lb_reconciled_{nft,routes}_total`. */
  registry?: Registry;
}

export interface NftDriver extends DataplaneDriver {
  readonly mode: "nft";
  /** Things that limit what works (sysctls); empty when all is well. */
  readonly warnings: readonly string[];
  /** What the kernel holds as far as we know (undefined before the first apply). */
  state(): DataplaneState | undefined;
  routes(): ReadonlySet<string>;
}

/** Whether nft can list tables here (what `mode: auto` asks). */
export async function nftUsable(opts: { netns?: string; nft?: string } = {}): Promise<{ ok: boolean; reason: string }> {
  const r = await runCommand(opts.nft ?? "nft", ["list", "tables"], { netns: opts.netns });
  return r.code === 0 ? { ok: true, reason: "" } : { ok: false, reason: failureText(r) };
}

/**
 * Reads a forwarding sysctl; when it is 0, sets it to 1 if `set` (a warning when that fails), or
 * just warns. Resolves to the warning, if any.
 */
async function checkSysctl(name: string, netns: string | undefined, why: string, set: boolean, log: Logger): Promise<string | undefined> {
  const path = `/proc/sys/${name.replace(/\./g, "/")}`;
  const read = await runCommand("cat", [path], { netns });
  if (read.code !== 0) return undefined; // not there (e.g. IPv6 disabled in the kernel): nothing to say
  if (read.stdout.trim() !== "0") return undefined;
  if (!set) return `${name} is 0: ${why}; set sysctl ${name}=1 for the node if it has IPv6 VIPs`;
  const done = await runCommand("sh", ["-c", `echo 1 > ${path}`], { netns });
  if (done.code === 0) {
    log.info({ sysctl: name }, `${name} was 0: set to 1 (${why.split(";")[0]})`);
    return undefined;
  }
  return `${name} is 0 and cannot be set here (${done.stderr.trim() || "read-only /proc/sys"}): ${why}; set sysctl ${name}=1 for the node (compose: sysctls)`;
}

/** A delta: the entries that change, before and after (see cutOf). */
interface Cut {
  prev: DataplaneState;
  next: DataplaneState;
}

interface Compiled {
  vip: DataplaneVip;
  key: string;
  family: Family;
  entry: VipEntry;
  backends: readonly DataplaneBackend[];
  /** How many times the last applied list holds this object. */
  count: number;
}

/** One VIP entry (address/protocol/port) that an apply changes: before → after (undefined = absent). */
interface EntryChange {
  fk: "ipv4" | "ipv6";
  key: string;
  before: VipEntry | undefined;
  after: VipEntry | undefined;
}

const sameBackends = (a: readonly DataplaneBackend[], b: readonly DataplaneBackend[]): boolean =>
  a.length === b.length && a.every((x, i) => x.ip === b[i]!.ip && x.port === b[i]!.port && x.weight === b[i]!.weight);

/** VIP entries and dispatch chains that differ between two states (what a reconcile repairs). */
export function countDifferences(a: DataplaneState, b: DataplaneState): number {
  let n = 0;
  for (const fk of ["ipv4", "ipv6"] as const) {
    const x = a[fk] ?? { vips: new Map<string, VipEntry>(), slotChains: new Set<string>() };
    const y = b[fk] ?? { vips: new Map<string, VipEntry>(), slotChains: new Set<string>() };
    for (const [k, v] of x.vips) {
      const w = y.vips.get(k);
      if (!w || dispatchChain(v) !== dispatchChain(w) || v.slots.some((s, i) => !sameSlot(s, w.slots[i]))) n++;
    }
    for (const k of y.vips.keys()) if (!x.vips.has(k)) n++;
    for (const c of x.slotChains) if (!y.slotChains.has(c)) n++;
    for (const c of y.slotChains) if (!x.slotChains.has(c)) n++;
  }
  return n;
}

/**
 * `prev` and `next` cut down to the VIP entries that differ (by object: compiled entries are
 * reused for unchanged VIPs), so renderDelta does not walk 10,000 unchanged VIPs. A family that
 * appears or goes is kept whole (renderDelta creates or drops its table). `routesChanged` is false
 * when no VIP address/protocol/port came or went.
 */
export function touchedOnly(
  prev: DataplaneState,
  next: DataplaneState,
): { prev: DataplaneState; next: DataplaneState; keysChanged: boolean } {
  const p: DataplaneState = {};
  const n: DataplaneState = {};
  let keysChanged = false;
  for (const fk of ["ipv4", "ipv6"] as const) {
    const a = prev[fk];
    const b = next[fk];
    if (!a || !b) {
      if (a) p[fk] = a;
      if (b) n[fk] = b;
      if (a?.vips.size || b?.vips.size) keysChanged = true;
      continue;
    }
    const pa: FamilyState = { vips: new Map(), slotChains: a.slotChains };
    const nb: FamilyState = { vips: new Map(), slotChains: b.slotChains };
    for (const [k, e] of a.vips) {
      const f = b.vips.get(k);
      if (f === e) continue;
      pa.vips.set(k, e);
      if (f) nb.vips.set(k, f);
      else keysChanged = true;
    }
    for (const [k, f] of b.vips) {
      if (a.vips.has(k)) continue;
      nb.vips.set(k, f);
      keysChanged = true;
    }
    p[fk] = pa;
    n[fk] = nb;
  }
  return { prev: p, next: n, keysChanged };
}

/** Elements (backend slots and VIPs) per transaction of a cold load. */
export const COLD_PART_ELEMENTS = 5000;

export async function createNftDriver(opts: NftDriverOptions): Promise<NftDriver> {
  const log = opts.logger.child({ component: "nft-driver" });
  const usable = await nftUsable(opts);
  if (!usable.ok)
    throw new DcnetError(
      Code.FAILED_PRECONDITION,
      `nftables is not usable here (l4lb mode "nft" needs the nft binary and NET_ADMIN; use mode "userspace" without them): ${usable.reason}`,
    );
  const warnings: string[] = [];
  if (opts.checkSysctls ?? true) {
    const why = "VIP connections from bridge-mode task namespaces are not forwarded (the node's own connections work)";
    // IPv6 forwarding is only checked: turning it on makes the kernel ignore router advertisements (accept_ra).
    for (const [name, set] of [
      ["net.ipv4.ip_forward", true],
      ["net.ipv6.conf.all.forwarding", false],
    ] as const) {
      const w = await checkSysctl(name, opts.netns, why, set, log);
      if (w) {
        warnings.push(w);
        log.warn(w);
      }
    }
  }
  let sockLb: SockLb | undefined;
  /** The last table asked for, for the socket LB's reconcile. */
  let lastVips: readonly DataplaneVip[] = [];
  if (opts.socketLb) {
    try {
      sockLb = await startSockLb({
        pin: opts.table ?? "dcnet_l4lb",
        ...(opts.netns !== undefined ? { netns: opts.netns } : {}),
        ...opts.socketLb,
        logger: log,
      });
    } catch (err) {
      const w = `socket LB off: ${(err as Error).message} (the node's own VIP connections go through the nft table)`;
      warnings.push(w);
      log.warn(w);
    }
  }
  const udpFlows =
    opts.conntrack === false
      ? undefined
      : createUdpFlows({
          logger: log,
          ...(opts.netns !== undefined ? { netns: opts.netns } : {}),
          ...(opts.conntrack !== undefined ? { conntrack: opts.conntrack } : {}),
          ...(opts.registry !== undefined ? { registry: opts.registry } : {}),
          ...(sockLb !== undefined ? { abortSockets: abortVia(sockLb, opts.netns) } : {}),
        });
  const nftOpts: NftOptions = {
    ...(opts.table !== undefined ? { table: opts.table } : {}),
    ...(opts.ctMark !== undefined ? { ctMark: opts.ctMark } : {}),
    ...(opts.balance !== undefined ? { balance: opts.balance } : {}),
  };
  const nft: Nft = createNft({
    ...(opts.netns !== undefined ? { netns: opts.netns } : {}),
    ...(opts.nft !== undefined ? { nft: opts.nft } : {}),
    ...(opts.table !== undefined ? { table: opts.table } : {}),
    session: opts.session ?? true,
  });
  const routes: LocalRoutes | undefined =
    opts.routes === false
      ? undefined
      : createLocalRoutes({
          logger: log,
          ...(opts.netns !== undefined ? { netns: opts.netns } : {}),
          ...(opts.routeProtocol !== undefined ? { protocol: opts.routeProtocol } : {}),
          ...(opts.routeSource !== undefined ? { source: opts.routeSource } : {}),
          ...(opts.ip !== undefined ? { ip: opts.ip } : {}),
        });

  const reg = opts.registry;
  const nftSeconds =
    reg &&
    histogram(
      reg,
      "l4lb_nft_duration_seconds",
      "Time to apply one nft transaction",
      ["op"],
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    );
  const routeSeconds =
    reg &&
    histogram(reg, "l4lb_routes_duration_seconds", "Time to update the VIP routes", [], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]);
  const reconciledNft = reg && counter(reg, "l4lb_reconciled_nft_total", "nft VIP entries and chains repaired by reconcile", []);
  const reconciledRoutes = reg && counter(reg, "l4lb_reconciled_routes_total", "VIP routes repaired by reconcile", []);
  const sockVips = reg && sockLb && gauge(reg, "l4lb_socket_lb_vips", "VIPs (address, port, protocol) in the socket LB's maps", []);
  const sockErrors =
    reg &&
    sockLb &&
    counter(
      reg,
      "l4lb_socket_lb_errors_total",
      "Socket LB updates (apply) and checks (reconcile) that failed; connects fall through to the nft table",
      ["op"],
    );
  const sockReloads =
    reg &&
    sockLb &&
    counter(reg, "l4lb_socket_lb_reloads_total", "Socket LB programs loaded again by reconcile (found detached or unpinned)", []);
  /** Writes the VIPs to the socket LB's maps; a failure is logged and counted (the table serves those connects). */
  const sockApply = async (vips: readonly DataplaneVip[]): Promise<void> => {
    if (!sockLb) return;
    try {
      await sockLb.apply(vips);
    } catch (err) {
      sockErrors?.inc({ op: "apply" });
      log.warn({ err: (err as Error).message }, "socket LB update failed");
    }
    sockVips?.set(sockLb.size);
  };

  // The compiled table, kept across applies and patched: an apply costs a walk over the list
  // (one Map lookup per VIP) plus what changed — not a recompile, a copy or a diff of the table.
  /** The VIP objects of the last compiled table (`count`: how many times each is in it). */
  let live = new Map<DataplaneVip, Compiled>();
  /** The last list applied (a copy), to compare the next one with by position. */
  let prevList: readonly DataplaneVip[] = [];
  /** Entry key → the live objects at that key (more than one: their backends are merged). */
  const atKey = new Map<string, Compiled[]>();
  /** What the kernel should hold; patched in place by each apply. */
  const desired: { ipv4: FamilyState; ipv6: FamilyState } = {
    ipv4: { vips: new Map(), slotChains: new Set() },
    ipv6: { vips: new Map(), slotChains: new Set() },
  };
  const chainRefs = { ipv4: new Map<string, number>(), ipv6: new Map<string, number>() };
  /** Route key (a VIP address, or the prefix covering it) → VIP entries using it. */
  const addrRefs = new Map<string, number>();
  const routeKey = routeCover(opts.routeCover ?? []);
  /** The kernel holds `desired` (as of the last successful apply); false = read it back first. */
  let inSync = false;
  let chain: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  /** The last route sync completed (else the next apply syncs routes whatever changed). */
  let routesSynced = false;
  /** The routes' first read from the kernel, started with the first apply's compile (the sync waits for it). */
  let routesLoading: Promise<void> | undefined;
  let requested = false;

  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = chain.then(fn);
    chain = p.catch(() => undefined);
    return p;
  };

  /** `desired` as a DataplaneState (IPv6 only while it has VIPs, as `compile` gives it). */
  const desiredState = (): DataplaneState =>
    desired.ipv6.vips.size > 0 ? { ipv4: desired.ipv4, ipv6: desired.ipv6 } : { ipv4: desired.ipv4 };

  const compileOne = (v: DataplaneVip): Compiled => {
    // (canonicalIp: an IPv4 address as it is, no BigInt for the common case)
    const text = canonicalIp(v.ip);
    const family = text === undefined ? undefined : familyOf(text);
    if (text === undefined || family === undefined)
      throw new DcnetError(Code.INVALID_ARGUMENT, `"${v.ip}" is not an IP address`, { field: "vip.ip" });
    if (!Number.isInteger(v.port) || v.port < 1 || v.port > 65535)
      throw new DcnetError(Code.INVALID_ARGUMENT, `${v.port} is not a port`, { field: "vip.port" });
    const key = vipEntryKey({ protocol: v.protocol, ip: text, port: v.port });
    // A rebuilt object with the same backends as one at its key keeps that entry (no kernel change).
    const same = atKey.get(key)?.find((c) => sameBackends(c.backends, v.backends));
    const entry: VipEntry = same?.entry ?? { protocol: v.protocol, ip: text, port: v.port, slots: slotsOf(v.backends, family) };
    return { vip: v, key, family, entry, backends: v.backends, count: 0 };
  };

  /** The entry a key should have given the objects at it. */
  const entryOf = (list: readonly Compiled[]): VipEntry | undefined => {
    const first = list[0];
    if (!first) return undefined;
    if (list.length === 1) return first.entry;
    // Two VIPs at one address/protocol/port (e.g. names that sanitise alike): their backends are merged.
    return {
      ...first.entry,
      slots: slotsOf(
        list.flatMap((c) => c.backends),
        first.family,
      ),
    };
  };

  const ref = (m: Map<string, number>, k: string, d: 1 | -1): boolean => {
    const n = (m.get(k) ?? 0) + d;
    if (n === 0) m.delete(k);
    else m.set(k, n);
    return d === 1 ? n === 1 : n === 0;
  };

  /**
   * Patches `desired` to the table `vips` and returns what changed. Throws (INVALID_ARGUMENT)
   * before changing anything when a VIP is invalid. The list is compared with the previous one by
   * position: the common head and tail (same objects) are skipped with one pointer compare each,
   * and only the objects in between are looked at — a VIP replaced, added or dropped anywhere in
   * a list that keeps its order (as the service builds it) costs O(1) Map work. Any other change
   * of order just makes that middle part longer; `count` keeps duplicates and moves exact.
   */
  const compileTable = (vips: readonly DataplaneVip[]): { changes: EntryChange[]; addedAddrs: string[]; removedAddrs: string[] } => {
    const prev = prevList;
    const m = prev.length;
    const n = vips.length;
    let head = 0;
    while (head < m && head < n && prev[head] === vips[head]) head++;
    let tail = 0;
    while (tail < m - head && tail < n - head && prev[m - 1 - tail] === vips[n - 1 - tail]) tail++;
    const fresh = new Map<DataplaneVip, Compiled>();
    for (let i = head; i < n - tail; i++) {
      const v = vips[i]!;
      if (!live.has(v) && !fresh.has(v)) fresh.set(v, compileOne(v));
    }
    // Nothing can throw from here on.
    prevList = vips.slice();
    const touched = new Set<string>();
    const families = new Map<string, "ipv4" | "ipv6">();
    for (const [v, c] of fresh) {
      live.set(v, c);
      const list = atKey.get(c.key);
      if (list) list.push(c);
      else atKey.set(c.key, [c]);
      touched.add(c.key);
      families.set(c.key, familyKey(c.family));
    }
    for (let i = head; i < n - tail; i++) live.get(vips[i]!)!.count++;
    for (let i = head; i < m - tail; i++) {
      const v = prev[i]!;
      const c = live.get(v)!;
      if (--c.count > 0) continue;
      live.delete(v);
      const list = atKey.get(c.key)!.filter((x) => x !== c);
      if (list.length > 0) atKey.set(c.key, list);
      else atKey.delete(c.key);
      touched.add(c.key);
      families.set(c.key, familyKey(c.family));
    }
    const changes: EntryChange[] = [];
    const addedAddrs: string[] = [];
    const removedAddrs: string[] = [];
    for (const key of touched) {
      const fk = families.get(key)!;
      const fs = desired[fk];
      const before = fs.vips.get(key);
      const after = entryOf(atKey.get(key) ?? []);
      if (before === after) continue;
      changes.push({ fk, key, before, after });
      if (before) {
        if (before.slots.length > 0 && ref(chainRefs[fk], dispatchChain(before), -1)) fs.slotChains.delete(dispatchChain(before));
        if (!after) {
          const route = routeKey(before.ip);
          if (ref(addrRefs, route, -1)) removedAddrs.push(route);
        }
      }
      if (after) {
        if (after.slots.length > 0 && ref(chainRefs[fk], dispatchChain(after), 1)) fs.slotChains.add(dispatchChain(after));
        if (!before) {
          const route = routeKey(after.ip);
          if (ref(addrRefs, route, 1)) addedAddrs.push(route);
        }
        fs.vips.set(key, after);
      } else fs.vips.delete(key);
    }
    return { changes, addedAddrs, removedAddrs };
  };

  /**
   * The delta of one apply as the two states renderDelta takes: only the changed entries, the
   * dispatch chains before and after; a family whose table appears or goes is whole.
   */
  const cutOf = (changes: readonly EntryChange[], chainsBefore: Record<"ipv4" | "ipv6", Set<string>>, v6Before: boolean): Cut => {
    const prev: DataplaneState = {};
    const next: DataplaneState = {};
    for (const fk of ["ipv4", "ipv6"] as const) {
      const had = fk === "ipv4" || v6Before;
      const has = fk === "ipv4" || desired.ipv6.vips.size > 0;
      if (had && has) {
        const p: FamilyState = { vips: new Map(), slotChains: chainsBefore[fk] };
        const n: FamilyState = { vips: new Map(), slotChains: new Set(desired[fk].slotChains) };
        for (const c of changes) {
          if (c.fk !== fk) continue;
          if (c.before) p.vips.set(c.key, c.before);
          if (c.after) n.vips.set(c.key, c.after);
        }
        prev[fk] = p;
        next[fk] = n;
      } else if (has) next[fk] = desired[fk];
      else if (had) prev[fk] = { vips: new Map(), slotChains: chainsBefore[fk] };
    }
    return { prev, next };
  };

  const transact = async (op: string, script: string): Promise<void> => {
    if (script === "") return;
    const end = nftSeconds?.startTimer({ op });
    try {
      await nft.apply(script);
    } finally {
      end?.();
    }
  };

  /**
   * A cold load (no table of ours yet) in stages: the tables with their chains and empty maps,
   * then transactions of about {@link COLD_PART_ELEMENTS} elements each (a share of the VIPs:
   * their slots and their `vips` elements, so each VIP goes live whole), applied in order through
   * up to two nft sessions at once (nft's parsing is most of the time; small transactions keep
   * nft's memory small). Any failure: the whole table in one transaction.
   */
  const coldLoad = async (next: DataplaneState): Promise<void> => {
    const elements =
      (next.ipv4 ? countSlots(next.ipv4) + next.ipv4.vips.size : 0) + (next.ipv6 ? countSlots(next.ipv6) + next.ipv6.vips.size : 0);
    if (elements <= COLD_PART_ELEMENTS) return transact("full", renderFull(next, nftOpts));
    const end = nftSeconds?.startTimer({ op: "full" });
    try {
      const staged = renderStaged(next, Math.ceil(elements / COLD_PART_ELEMENTS), nftOpts);
      await nft.apply(staged.tables);
      await nft.applyParts(staged.parts, Math.min(2, Math.max(1, os.availableParallelism())));
    } catch (err) {
      log.warn({ err: (err as Error).message }, "staged nft load failed: loading the table in one transaction");
      await nft.apply(renderFull(next, nftOpts));
    } finally {
      end?.();
    }
  };

  /**
   * Our chains' rules as this nft shows them (nft-drift.ts), per family: probed once, the first
   * time a read needs them; undefined when the probe failed (rules go unchecked that round; a
   * failed probe — nft could not run — is tried again next time, logged once).
   */
  const expected = new Map<Family, Promise<ExpectedChains | undefined>>();
  let probeFailureLogged = false;
  const expectedRules = (f: Family): Promise<ExpectedChains | undefined> => {
    let e = expected.get(f);
    if (!e) {
      const probeTable = `${opts.table ?? DEFAULT_TABLE}_probe`;
      e = nft.probeChains(f, probeTable, renderRuleProbe(f, probeTable, nftOpts)).then(
        (chains) => {
          const x = expectedFromProbe(chains);
          if (!x) log.warn({ family: f }, "the nft rule probe did not show our chains: chain rules are not checked by reconcile");
          return x;
        },
        (err: unknown) => {
          expected.delete(f);
          if (!probeFailureLogged)
            log.warn({ family: f, err: (err as Error).message }, "the nft rule probe failed: chain rules are not checked until it works");
          probeFailureLogged = true;
          return undefined;
        },
      );
      expected.set(f, e);
    }
    return e;
  };

  /** Chains of ours in `read` whose rules drifted (per family, only where `next` keeps the table), and hook problems. */
  const driftOf = async (
    read: TableRead,
    next: DataplaneState,
  ): Promise<{ chains: { f: Family; names: string[] }[]; problems: string[] }> => {
    const out: { f: Family; names: string[] }[] = [];
    const problems: string[] = [];
    for (const f of [4, 6] as const) {
      const fk = f === 4 ? "ipv4" : "ipv6";
      const have = read.chains[fk];
      if (!have || !next[fk]) continue;
      const want = await expectedRules(f);
      if (!want) continue;
      const d = chainDrift(f, have, want);
      problems.push(...d.problems);
      // A dispatch chain `next` no longer has is deleted by the delta anyway.
      const names = d.drifted.filter((n) => !/_slots_/.test(n) || next[fk]!.slotChains.has(n));
      if (names.length > 0) out.push({ f, names });
    }
    return { chains: out, problems };
  };

  /**
   * Brings the kernel from whatever it holds to `next`; returns the differences repaired when
   * reading back. `alongside` (route updates) runs concurrently with a cold load, else not at all.
   */
  const converge = async (
    next: DataplaneState,
    readBack: boolean,
    cut?: Cut,
    alongside?: () => Promise<void>,
    readEarly?: Promise<TableRead>,
  ): Promise<number> => {
    inSync = false;
    let repaired = 0;
    if (readBack || cut === undefined) {
      const read = await (readEarly ?? nft.read());
      const drift = read.problems.length > 0 ? { chains: [], problems: [] } : await driftOf(read, next);
      const problems = [...read.problems, ...drift.problems];
      if (problems.length > 0) {
        log.warn({ problems: problems.slice(0, 10), count: problems.length }, "our nft table does not fit the model: rebuilding it");
        await transact("full", renderFull(next, nftOpts));
        repaired = Math.max(1, countDifferences(read.state, next));
      } else if (!read.state.ipv4 && !read.state.ipv6 && !readBack) {
        await Promise.all([coldLoad(next), alongside?.()]);
      } else {
        repaired = countDifferences(read.state, next);
        // Drifted rules are put back in the same transaction as the elements' delta.
        const repair: string[] = [];
        for (const { f, names } of drift.chains) {
          log.warn({ family: f, chains: names }, "rules of our nft chains differ from ours (flushed or edited?): restoring them");
          repair.push(...renderChainRepair(f, names, nftOpts));
          repaired += names.length;
        }
        const delta = renderDelta(read.state, next, nftOpts);
        await transact(readBack ? "reconcile" : "delta", repair.length > 0 ? `${repair.join("\n")}\n${delta}` : delta);
      }
    } else {
      try {
        await transact("delta", renderDelta(cut.prev, cut.next, nftOpts));
      } catch (err) {
        log.warn({ err: (err as Error).message }, "nft delta failed (the kernel differs from what we applied): rebuilding the table");
        await transact("full", renderFull(next, nftOpts));
      }
    }
    inSync = true;
    return repaired;
  };

  /**
   * Resolves to the error when routes could not be changed (RoutesError: it names them; what did
   * change is known to `routes`): the table still goes to nft, and apply rejects with it at the end.
   */
  const syncRoutes = async (stage: "before" | "after", all: boolean, addrs: readonly string[]): Promise<Error | undefined> => {
    if (!routes) return undefined;
    const end = routeSeconds?.startTimer();
    try {
      // Only the addresses that came or went, unless the routes are not known to be in sync.
      if (!all) await (stage === "before" ? routes.update([], addrs) : routes.update(addrs, []));
      // Remove stale routes first (upstream order): keep every current one still wanted.
      else if (stage === "before") await routes.sync([...routes.installed()].filter((a) => addrRefs.has(a)));
      else await routes.sync(addrRefs.keys());
      return undefined;
    } catch (err) {
      if (!(err instanceof RoutesError)) throw err;
      log.warn({ err: err.message }, "VIP routes failed");
      return err;
    } finally {
      end?.();
    }
  };

  const driver: NftDriver = {
    mode: "nft",
    warnings,
    state: () => (inSync ? desiredState() : undefined),
    routes: () => routes?.installed() ?? new Set(),
    socketLb: () => (sockLb ? { cgroup: sockLb.cgroup, vips: sockLb.size } : undefined),
    apply: (vips) =>
      serial(async () => {
        if (closed) throw new DcnetError(Code.FAILED_PRECONDITION, "the nft driver is closed");
        const chainsBefore = { ipv4: new Set(desired.ipv4.slotChains), ipv6: new Set(desired.ipv6.slotChains) };
        const v6Before = desired.ipv6.vips.size > 0;
        // Out of sync (first apply, or a failure since): read the kernel back while compiling.
        const readEarly = inSync ? undefined : nft.read();
        readEarly?.catch(() => undefined);
        // The routes too, the first time (sync would read them first).
        if (routes && !routesLoading) {
          routesLoading = routes.load();
          routesLoading.catch(() => undefined);
        }
        const { changes, addedAddrs, removedAddrs } = compileTable(vips);
        requested = true;
        // Without a kernel in sync (first apply, or a failure since), converge reads it back.
        const cut = inSync ? cutOf(changes, chainsBefore, v6Before) : undefined;
        if (cut && changes.length === 0 && routesSynced) {
          udpFlows?.update(vips); // e.g. a drained (weight 0) backend removed: no slot changed
          return;
        }
        if (changes.length > 0) inSync = false; // until converge has put them in the kernel
        // Routes follow VIP addresses: untouched when no address came or went.
        const allRoutes = !cut || !routesSynced;
        const before = allRoutes || removedAddrs.length > 0;
        const after = allRoutes || addedAddrs.length > 0;
        if (before || after) routesSynced = false;
        let routeError = before ? await syncRoutes("before", allRoutes, removedAddrs) : undefined;
        let routed = false;
        const routeAfter = async (): Promise<void> => {
          routeError ??= await syncRoutes("after", allRoutes, addedAddrs);
          routed = true;
        };
        await converge(desiredState(), false, cut, after ? routeAfter : undefined, readEarly);
        if (after && !routed) await routeAfter();
        // A shortcut of what the table now does: when it fails, connects fall through to the table.
        lastVips = vips;
        await sockApply(vips);
        // New flows no longer reach removed backends (nor new connects, through the socket LB's
        // maps, written first): move the UDP flows and connected sockets still pinned to them.
        udpFlows?.update(vips);
        // The table is in; the routes that failed are tried again by the next apply (or reconcile).
        if (routeError) throw routeError;
        routesSynced = true;
      }),
    reconcile: () =>
      serial(async () => {
        if (closed || !requested) return 0; // nothing asked for yet: nothing to hold the kernel to
        const nftRepairs = await converge(desiredState(), true);
        if (nftRepairs > 0) reconciledNft?.inc(nftRepairs);
        const routeRepairs = routes ? await routes.reconcile() : 0;
        // A detached program is loaded again; after that or a failed update the maps are empty
        // and this writes them again (else there is nothing to do).
        const sockRepairs = sockLb
          ? await sockLb.reconcile().then(
              (reloaded) => (reloaded ? 1 : 0),
              (err: unknown) => {
                sockErrors?.inc({ op: "reconcile" });
                log.warn({ err: (err as Error).message }, "socket LB reconcile failed");
                return 0;
              },
            )
          : 0;
        if (sockRepairs > 0) sockReloads?.inc();
        await sockApply(lastVips);
        if (routeRepairs > 0) reconciledRoutes?.inc(routeRepairs);
        if (nftRepairs + routeRepairs + sockRepairs > 0)
          log.warn({ nft: nftRepairs, routes: routeRepairs, socketLb: sockRepairs }, "reconcile repaired drift");
        return nftRepairs + routeRepairs + sockRepairs;
      }),
    close: async () => {
      clearInterval(timer);
      closed = true;
      await chain;
      nft.close();
      routes?.close();
      await sockLb?.close();
      await udpFlows?.idle();
      live = new Map();
      prevList = [];
    },
  };

  const interval = opts.reconcileIntervalMs ?? 30_000;
  if (interval > 0) {
    timer = setInterval(() => {
      driver.reconcile().catch((err: unknown) => log.warn({ err: (err as Error).message }, "nft reconcile failed"));
    }, interval);
    timer.unref();
  }
  return driver;
}

/** The socket LB's connected UDP sockets of a removed backend, aborted (sock-lb-udp.ts). */
function abortVia(sockLb: SockLb, netns: string | undefined): (f: StaleFlow) => Promise<number> {
  return (f) =>
    abortConnectedUdp(f, { revnat: sockLb.revnat, bpftool: sockLb.bpftool, timeoutMs: 10_000, ...(netns !== undefined ? { netns } : {}) });
}
